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
