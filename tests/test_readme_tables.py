"""The README's benchmark tables are exactly what the committed result files say (bench/readme_tables.py)."""
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_tables", REPO / "bench" / "readme_tables.py")
readme_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_tables)


def test_readme_tables_match_the_committed_results():
    diff = readme_tables.check()
    assert not diff, "README tables differ from bench/results; run `python bench/readme_tables.py --write`:\n" + \
        "\n".join(diff[:40])


def test_an_edited_number_or_a_missing_table_is_caught(tmp_path):
    text = (REPO / "README.md").read_text()
    row = next(line for line in text.splitlines() if "sim_throughput.json" not in line and line.startswith("| 2 |"))
    edited = tmp_path / "README.md"
    edited.write_text(text.replace(row, row.replace("| 2 |", "| 2 | 999.9 |", 1)))
    assert readme_tables.check(edited)
    edited.write_text(text.replace("<!-- table:learner-speed -->", ""))
    assert any("learner-speed" in line for line in readme_tables.check(edited))


def test_every_cited_result_file_exists_and_has_its_command():
    text = (REPO / "README.md").read_text()
    for m in sorted(set(__import__("re").findall(r"bench/results/([\w.-]+\.json)", text))):
        d = json.loads((REPO / "bench" / "results" / m).read_text())
        assert "command" in d, f"bench/results/{m} does not say how it was measured"


def test_methods_compare_pixel_actors_at_the_same_steps_and_wall_time(tmp_path, monkeypatch):
    def ev(steps, wall, success):
        return {"env_steps": steps, "wall_time_s": wall, "success_rate": success}
    staged = {"runs": {"seed0": {
        "stages": {"teacher": {"env_steps": 100, "wall_time_s": 600.0}},
        "curves": {"teacher": [ev(0, 0, 0.0), ev(100, 600, 0.9)],
                   "student": [ev(0, 0, 0.1), ev(100, 600, 0.5), ev(200, 1200, 0.8)]}}}}
    single = {"command": "x", "curves": {"asymmetric-deployed": [[ev(0, 0, 0.0), ev(150, 900, 0.2), ev(250, 1500, 0.3)]],
                                         "symmetric-old": [[ev(0, 0, 0.0), ev(50, 60, 0.9)]]},
              "configs": {"asymmetric-deployed": {"wiring": "asymmetric", "sim": {"motion": {}}},
                          "symmetric-old": {"wiring": "symmetric", "sim": {"max_ee_step_m": 0.05}}}}
    (tmp_path / "learn_staged.json").write_text(json.dumps(staged))
    (tmp_path / "learn_push_x.json").write_text(json.dumps(single))
    monkeypatch.setattr(readme_tables, "RESULTS", tmp_path)
    text = readme_tables.methods()
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and "---" not in ln]
    # common points: the smaller of the methods' last evals, 250 env steps and 1500 s (the staged run's
    # pixel actor: its student's evals shifted by the teacher's 100 steps / 600 s); the earlier dynamics' run is left out
    assert "at 250 env steps" not in text and "eval success at 0.25k env steps" in lines[0]
    assert "eval success at 25 min" in lines[0]
    staged_row, asym_row = lines[1], lines[2]
    # 250 steps -> student at 150 -> its 100-step eval; 1500 s -> student at 900 s -> its 600 s eval; last: 300 / 1800 s
    assert "| 1 | 50 % | 50 % | 80 % at 0.3k / 30 min |" in staged_row
    assert "| 1 | 30 % | 30 % | 30 % at 0.25k / 25 min |" in asym_row
    assert len(lines) == 3 and "symmetric-old" not in text and "pixel critic" not in text
    # before the teacher stage ends there is no pixel actor to compare
    assert readme_tables.success_at(readme_tables.staged_pixel_curve(staged["runs"]["seed0"]), "env_steps", 50) is None


def test_every_staged_result_in_the_readme_links_its_curves():
    # bench/learn_staged.py draws each series' curves beside its JSON; the README's row links them
    text = (REPO / "README.md").read_text()
    cited = sorted(set(__import__("re").findall(r"bench/results/(learn_staged[\w.-]*)\.json", text)))
    assert cited
    for stem in cited:
        assert (REPO / "bench" / "results" / f"{stem}.png").is_file(), f"{stem}.png missing: run learn_staged.py --replot"
        assert f"[curves](bench/results/{stem}.png)" in text, stem
