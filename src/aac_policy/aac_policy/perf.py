"""CPU performance knobs for the learner process."""
from __future__ import annotations

import ctypes
import sys

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
