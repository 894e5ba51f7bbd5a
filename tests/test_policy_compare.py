"""The wiring comparison's verdicts (issue 3: symmetric <= half of asymmetric at the same env steps)."""
import json

from aac_policy.compare import at_same_steps, success_at, summarize_runs


def curve(pairs):
    return [{"env_steps": s, "wall_time_s": s / 50, "success_rate": r} for s, r in pairs]


def test_success_at_takes_the_last_eval_at_or_before_the_steps():
    rows = curve([(0, 0.0), (10, 0.2), (20, 0.5)])
    assert success_at(rows, 15) == 0.2
    assert success_at(rows, 20) == 0.5
    assert success_at(curve([(10, 0.2)]), 5) is None


def test_at_same_steps_compares_only_where_both_runs_evaluated_and_judges_the_window():
    agent = curve([(s, 0.1 * k) for k, s in enumerate(range(0, 110, 10))])       # 0.0 .. 1.0
    baseline = curve([(s, 0.05 * k) for k, s in enumerate(range(0, 80, 10))])   # shorter run, 0 .. 0.35
    out = at_same_steps(agent, baseline, window=3)
    assert [p["env_steps"] for p in out["points"]] == list(range(0, 80, 10))   # not past the baseline's end
    assert out["window"] == [50, 70]
    assert abs(out["agent_mean"] - 0.6) < 1e-9 and abs(out["baseline_mean"] - 0.3) < 1e-9
    assert out["baseline_at_most_half"] is True

    better_baseline = curve([(s, 0.08 * k) for k, s in enumerate(range(0, 80, 10))])
    assert at_same_steps(agent, better_baseline, window=3)["baseline_at_most_half"] is False


def test_at_same_steps_gives_no_verdict_while_the_agent_barely_succeeds():
    agent = curve([(0, 0.0), (10, 0.0), (20, 0.03)])
    baseline = curve([(0, 0.0), (10, 0.0), (20, 0.0)])
    assert at_same_steps(agent, baseline)["baseline_at_most_half"] is None   # 1 % vs 0 % is noise
    assert at_same_steps(agent, curve([(5, 0.0)]))["baseline_at_most_half"] is None   # no common eval


def test_summarize_runs_reports_steps_to_90_percent(tmp_path):
    run = tmp_path / "a_seed0"
    run.mkdir()
    rows = curve([(0, 0.0), (10, 0.5), (20, 0.93), (30, 0.9)])
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = summarize_runs({"a": [run], "empty": [tmp_path / "missing"]})
    assert "empty" not in out
    assert out["a"]["env_steps_to_90pct"] == [20] and out["a"]["final_success_mean"] == 0.9
