"""bench/export_student.py: a finished staged run's student copied into bench/students/ with repository-relative
paths; unfinished runs and existing targets refused. And every committed student is complete and path-clean."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
spec = importlib.util.spec_from_file_location("export_student", REPO / "bench" / "export_student.py")
export_student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export_student)


def fake_run(root: Path) -> Path:
    run = root / "staged-x_seed0"
    for sub in ("student", "eval"):
        (run / sub).mkdir(parents=True)
    (run / "actor.onnx").write_bytes(b"\x08\x01onnx")
    (run / "student" / "config.yaml").write_text(f"teacher_path: {REPO}/bench/runs/staged-x_seed0/teacher\n")
    (run / "eval" / "report.json").write_text(json.dumps({"actor": f"{REPO}/bench/runs/staged-x_seed0/actor.pt"}))
    (run / "student" / "metrics.jsonl").write_text('{"env_steps": 0}\n')
    (run / "stages.json").write_text("{}")
    return run


def test_export_copies_the_student_with_repository_relative_paths(tmp_path):
    run = fake_run(tmp_path)
    out = tmp_path / "students" / "x_seed0"
    written = export_student.export(run, out)
    assert sorted(p.name for p in written) == sorted(export_student.FILES)
    assert (out / "actor.onnx").read_bytes() == b"\x08\x01onnx"
    assert (out / "config.yaml").read_text() == "teacher_path: bench/runs/staged-x_seed0/teacher\n"
    assert json.loads((out / "eval_report.json").read_text()) == {"actor": "bench/runs/staged-x_seed0/actor.pt"}
    with pytest.raises(SystemExit, match="exists"):
        export_student.export(run, out)
    export_student.export(run, out, force=True)
    (run / "eval" / "report.json").unlink()   # a run whose final report has not been written
    with pytest.raises(SystemExit, match="not a finished staged run: missing eval/report.json"):
        export_student.export(run, tmp_path / "other")


def test_committed_students_are_complete_and_record_no_machine_paths():
    students = [d for d in (REPO / "bench" / "students").iterdir() if (d / "actor.onnx").exists()]
    assert students
    for d in students:
        for name in export_student.FILES:
            assert (d / name).is_file(), f"{d.name} lacks {name}"
        for name in export_student.TEXT:
            text = (d / name).read_text()
            assert str(REPO) not in text and "/work/" not in text and "/home/" not in text, f"{d.name}/{name}"
