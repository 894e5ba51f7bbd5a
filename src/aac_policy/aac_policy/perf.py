"""CPU performance knobs for the learner process."""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys

import torch

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_done = False


def keep_freed_memory_for_reuse() -> bool:
    """Stop glibc from returning every large freed block to the OS.

    Each update allocates ~30 MB image batches. By default glibc serves blocks that big with a
    fresh mmap and unmaps them on free, so every batch pays page faults and zeroing: measured
    49 ms -> 18 ms for shift + float conversion of a 256 x 84x84 RGB-D batch with this on
    (bench/learner_speed.py). Linux/glibc only; elsewhere a no-op.
    """
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL("libc.so.6")
        _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
    except (OSError, AttributeError):
        _done = False
    return _done


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with `n` torch intra-op threads, then restore the previous count.

    Collection uses 1: a batch of a few observations gains nothing from a second thread, and the
    idle OpenMP thread busy-waits for the next parallel region on the core the env workers need.
    Measured on the 2-core machine (push, 2 env workers, `python bench/collect_speed.py`): the
    collecting process's own CPU fell from 13 to 3 ms per vector step, collection rose from 133 to
    185 env steps/s (asymmetric actor) and whole training rounds from 48 to 55 env steps/s.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def bf16_is_fast(device: torch.device) -> bool:
    """Does bfloat16 autocast speed the pixel actor's updates up on `device`? On CPU only where oneDNN has a
    bf16 path (AVX512 / AVX512-BF16 / AMX): on an AVX2-only CPU (AMD Zen 3 here, 2026-12-02) autocast made the
    update 3.8x SLOWER than fp32 (../shared/tools/cpu_bf16_update_bench.py), where AVX512-BF16 made it 1.6x
    faster. On CUDA where the GPU supports bf16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def bf16_support_note(device: torch.device) -> str:
    """What the machine offers, for a log line or a result file."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU capability {torch.backends.cpu.get_cpu_capability()}"


def machine_info() -> dict:
    """The CPU a timed result came from: learning runs on CPUs with and without a fast bf16 path differ ~2x in
    wall time (bench/README.md, 2026-12-02), so results record it."""
    model = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "bf16_fast": bf16_is_fast(torch.device("cpu"))}


def _read_lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []
