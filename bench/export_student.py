"""Keep a finished staged run's deployable student in the repository: bench/students/<name>/.

Run folders (bench/runs/) are not committed; this copies what a user or the next session needs from one:
the exported ONNX actor, the student's training config, the final eval report, its eval curve and the
pipeline's per-stage summary. Machine paths inside the text files become repository-relative (the
standards: committed results never record a machine's absolute paths).

    .venv/bin/python bench/export_student.py bench/runs/staged-pick_place-n1_seed2 pick_place_n1_seed2

Refuses a run that has not finished (no eval report or no exported actor) and an existing target unless
--force.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from repo_paths import REPO

HERE = Path(__file__).parent
# target name -> source inside the run folder
FILES = {"actor.onnx": "actor.onnx", "config.yaml": "student/config.yaml", "eval_report.json": "eval/report.json",
         "metrics.jsonl": "student/metrics.jsonl", "stages.json": "stages.json"}
TEXT = ("config.yaml", "eval_report.json", "stages.json")


def export(run: Path, out: Path, force: bool = False) -> list[Path]:
    missing = [src for src in FILES.values() if not (run / src).is_file()]
    if missing:
        raise SystemExit(f"{run} is not a finished staged run: missing {', '.join(missing)}")
    if out.exists() and not force:
        raise SystemExit(f"{out} exists; --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, src in FILES.items():
        dst = out / name
        if name in TEXT:   # REPO is resolved (repo_paths), as the runs record their paths
            dst.write_text((run / src).read_text().replace(str(REPO) + "/", ""))
        else:
            shutil.copyfile(run / src, dst)
        written.append(dst)
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a finished staged run folder (bench/runs/staged-..._seedN)")
    ap.add_argument("name", help="folder name under bench/students/")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    for path in export(args.run, HERE / "students" / args.name, args.force):
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
