"""The README's benchmark tables, rendered from the committed result files they cite.

    .venv/bin/python bench/readme_tables.py           # check: exit 1 and show the diff where README != JSON
    .venv/bin/python bench/readme_tables.py --write   # rewrite the tables in README.md from bench/results/

Each table sits in README.md between `<!-- table:NAME -->` and `<!-- /table -->`; what is between is
exactly what `TABLES[NAME]` renders from the JSON named in its first column, so a number in a table is
never typed by hand and the test suite (tests/test_readme_tables.py) fails when the two drift apart.
Percentages are success rates x 100 rounded to the nearest integer; other numbers are rounded as shown.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
RESULTS = HERE / "results"
README = REPO / "README.md"
BLOCK = re.compile(r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def pct(x) -> str:
    return "n/a" if x is None else f"{round(100 * x)} %"


def steps_k(n) -> str:
    return "n/a" if n is None else f"{n / 1000:g}k"


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header: list[str], rows: list[str]) -> str:
    return "\n".join([row(*header), row(*["---"] * len(header)), *rows]) + "\n"


def first_at(curve: list[dict], level: float):
    """Env steps of the first eval at or above `level` (None if never)."""
    return next((r["env_steps"] for r in curve if r["success_rate"] >= level), None)


# ---------------------------------------------------------------- tables

def sim_throughput() -> str:
    d = load("sim_throughput.json")
    t = d["targets"]
    rows = []
    for workers, r in sorted(d["results"].items()):
        target = (f">= {t['env_2_workers_min_steps_per_s']} steps/s and ratio >= {t['min_ratio_to_raw']}"
                  if workers == "2" else f"ratio >= {t['min_ratio_to_raw']}")
        rows.append(row(workers, r["env_steps_per_s"], r["raw_limit_steps_per_s"], f"{r['ratio']:.2f}", target))
    return table(["workers (`bench/results/sim_throughput.json`)", "env steps/s", "raw PyBullet limit steps/s",
                  "env / raw", "target"], rows)


def ros_and_deploy() -> str:
    o = load("ros_overhead.json")
    rows = []
    for n, r in sorted(o["results"].items()):
        ratio = r["ratio_ros_to_in_process"]
        met = "met" if ratio >= o["goal_ratio"] else "NOT met"
        rows.append(row(f"lockstep ROS vs in-process, {n} env{'s' if n != '1' else ''}, median of {o['rounds']} "
                        f"interleaved rounds (`bench/results/ros_overhead.json`)", f"`{o['command']}`",
                        f"{ratio:.2f} ({r['steps_per_s']['ros']:.0f} vs {r['steps_per_s']['in_process']:.0f} "
                        f"steps/s), {r['dropped']} dropped", f">= {o['goal_ratio']}: **{met}**"))
    d = load("deploy_latency.json")
    for case, r in d["results"].items():
        cam = r["camera"]
        expected = r.get("control_ticks", r["frames_sent"])   # older runs: the policy answered every frame
        every = r["commands_matched"] >= expected
        target = (f"p99 <= 10 ms: **{'met' if r['p99_ms'] <= 10 else 'NOT met'}**" if cam == "84x84" else
                  f"every control tick answered, p99 <= 8 ms: **{'met' if every and r['p99_ms'] <= 8 else 'NOT met'}**")
        case_of = (f", {r['runtime']}" if "runtime" in r else "") + (
            f", nodes at SCHED_FIFO {r['thread_priority']}" if r.get("thread_priority") else "") + (
            ", policy images best effort (image_qos sensor_data)" if r.get("image_qos") == "sensor_data" else "")
        rows.append(row(f"camera frame in -> arm command out, {cam} frames at {d['rate_hz']:g} Hz{case_of}, 4 processes "
                        f"(`bench/results/deploy_latency.json`)", f"`{d['command']}`",
                        f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms; "
                        f"{r['commands_matched']} of {expected} {'control ticks' if 'control_ticks' in r else 'frames'} "
                        f"answered", target))
    return table(["benchmark", "command", "result", "target"], rows)


def staged_row(path: str, what: str) -> str | None:
    if not (RESULTS / path).exists():
        return None
    d = load(path)
    s = d["summary"]
    seeds = list(d["runs"].values())
    per_seed = "; ".join(
        f"{k}: {pct(r['final_report'].get('train'))} after "
        f"{r['stages']['total_wall_time_s'] / 60:.0f} min ({steps_k(r['stages']['teacher']['env_steps'])} teacher "
        f"+ {steps_k(r['stages']['student']['env_steps'])} student env steps)" for k, r in d["runs"].items())
    held = ", ".join(f"{name} {pct(s.get(key + '_mean'))}" for name, key in
                     (("held-out lighting", "lighting_heldout"), ("held-out textures", "textures_heldout"),
                      ("camera shift", "camera_shift"), ("deploy camera path", "deploy_camera_path"))
                     if s.get(key + "_mean") is not None)
    n = len(seeds)
    result = (f"final report, training distribution: **mean {pct(s['final_success_mean'])}, worst "
              f"{pct(s['final_success_worst'])}** over {n} seed{'s' if n != 1 else ''} ({per_seed}); {held}")
    grasp = [r["grasp"]["train"] for r in seeds if "train" in r.get("grasp", {})]
    if grasp:
        result += (f"; grasp success {', '.join(pct(g['grasp_success_rate']) for g in grasp)}, drops after a lift "
                   f"{', '.join(pct(g['drop_rate_after_grasp']) for g in grasp)}")
    split = [g for g in grasp if g.get("episodes_goal_in_air")]
    if split:   # pick_place: goals in the air need a grasp
        result += (f"; goals in the air {', '.join(pct(g['success_rate_goal_in_air']) for g in split)}, on the table "
                   f"{', '.join(pct(g['success_rate_goal_on_table']) for g in split)}")
    return row(f"{what} (`bench/results/{path}`{curves_link(path)})", f"`{d['command']}`", result)


def curves_link(path: str) -> str:
    """The series' curve PNG (bench/learn_staged.py draws it beside its JSON), where it exists."""
    png = Path(path).with_suffix(".png").name
    return f", [curves](bench/results/{png})" if (RESULTS / png).exists() else ""


def teacher_rows() -> list[str]:
    """Stage 1 alone (`learn_staged.py --teacher-only`): one row per task / variant file."""
    rows = []
    for p in sorted(RESULTS.glob("learn_staged-*-teacher.json")):
        d = load(p.name)
        task = p.name.removeprefix("learn_staged-").removesuffix("-teacher.json")
        per_seed = []
        for k, r in d["runs"].items():
            curve, t = r["curves"]["teacher"], r["stages"]["teacher"]
            first, late = first_at(curve, 0.9), [x["success_rate"] for x in curve[-10:]]
            grasp = r.get("grasp", {}).get("train", {}).get("grasp_success_rate")
            per_seed.append(f"{k}: {pct(r['final_report'].get('train'))} final report"
                            + (f", grasp {pct(grasp)}" if grasp is not None else "")
                            + f"; {steps_k(t['env_steps'])} env steps in {t['wall_time_s'] / 60:.0f} min; "
                            + (f"first eval >= 90 % at {steps_k(first)}" if first else "no eval >= 90 %")
                            + f", best eval {pct(max(x['success_rate'] for x in curve))}, mean of the last "
                            + f"{len(late)} evals {pct(sum(late) / len(late))}")
        rows.append(row(f"teacher stage alone (privileged state, no images): {task} (`bench/results/{p.name}`"
                        f"{curves_link(p.name)})",
                        f"`{d['command']}`", "; ".join(per_seed)))
    return rows


def learning() -> str:
    rows = [r for r in (
        staged_row("learn_staged.json", "**the main job**: staged pipeline, 2 h per seed"),
        staged_row("learn_staged-trial-p16.json", "student stage alone, 40 min, from an existing teacher (trial)"),
        staged_row("learn_staged-pick.json", "pick from pixels (issue 19): staged, each seed with its own budget "
                   "(seed 0's student from the committed teacher `bench/teachers/pick_seed0`, the row below)"),
        staged_row("learn_staged-pick_place-n1.json", "pick_place (move a block) from pixels (issue 19): staged, the "
                   "teacher with 1-step TD targets (`configs/pick_place.yaml`)"),
        staged_row("learn_staged-pick_place-n1-retex50.json", "pick_place, the same teachers, the student with "
                   "re-texturing (`student.retexture_prob` 0.5, the default since 2026-12-07)"),
        staged_row("learn_staged-pick-retex50.json", "pick, the student with re-texturing (the default), each "
                   "seed's student from its committed teacher `bench/teachers/pick_seed<N>`"),
    ) if r] + teacher_rows()
    d = load("learn_push_vs_state-t-base.json")
    for variant, curves in d["curves"].items():
        curve = curves[0]
        last = curve[-1]
        rows.append(row(f"teacher stage alone: state, TD3 + HER, variant `{variant}` "
                        f"(`bench/results/learn_push_vs_state-t-base.json`)", f"`{d['command']}`",
                        (f"first eval >= 90 % at {steps_k(first_at(curve, 0.9))} env steps" if first_at(curve, 0.9)
                         else "never >= 90 %") + f"; last eval "
                        f"{pct(last['success_rate'])} at {steps_k(last['env_steps'])} "
                        f"({last['wall_time_s'] / 60:.0f} min); best {pct(max(r['success_rate'] for r in curve))}"))
    return table(["benchmark", "command", "result"], rows)


# ---------------------------------------------------------------- methods at equal env steps / wall time

def success_at(curve: list[dict], key: str, x: float):
    """Eval success of the last eval at or before `x` (env steps or wall seconds); None before the first."""
    before = [r for r in curve if r[key] <= x]
    return before[-1]["success_rate"] if before else None


def staged_pixel_curve(run: dict) -> list[dict]:
    """The deployable pixel actor's evals on the pipeline's own axes: the student's curve shifted by what
    the teacher stage spent (before the student's first eval there is no pixel policy)."""
    t = run["stages"]["teacher"]
    return [{**r, "env_steps": r["env_steps"] + t["env_steps"], "wall_time_s": r["wall_time_s"] + t["wall_time_s"]}
            for r in run["curves"]["student"]]


def deployed_dynamics(config: dict) -> bool:
    """Runs trained with the motion limits the robot is deployed with (issue 21) have `sim.motion`; the
    earlier results (25 Hz, 1.25 m/s) do not and are not compared with them."""
    return "motion" in config.get("sim", {})


def method_curves() -> dict[str, tuple[str, list[list[dict]]]]:
    """Method -> (result file, one pixel-actor curve per seed), push, deployed dynamics only."""
    out = {}
    if (RESULTS / "learn_staged.json").exists():
        out["staged: privileged teacher, then DAgger pixel student (the main job)"] = (
            "learn_staged.json", [staged_pixel_curve(r) for r in load("learn_staged.json")["runs"].values()])
    for p in sorted(RESULTS.glob("learn_push_*.json")):
        d = load(p.name)
        for label, curves in d.get("curves", {}).items():
            cfg = d.get("configs", {}).get(label)
            if cfg is None or not deployed_dynamics(cfg) or cfg["wiring"] == "state":
                continue
            kind = ("concurrent state teacher + DAgger pixel actor" if cfg.get("state_teacher")
                    else "paper's asymmetric actor-critic (state critic, pixel actor)" if cfg["wiring"] == "asymmetric"
                    else "symmetric actor-critic (pixel critic)")
            out[f"{kind}, `{label}`"] = (p.name, [c for c in curves if c])
    return out


def methods() -> str:
    """Every method's pixel actor at the same env steps and the same wall time: the largest both of which
    every method reached (each method's eval at or before that point, mean over its seeds)."""
    found = method_curves()
    if not found:
        return "No push runs with the deployed dynamics yet.\n"
    steps = min(min(c[-1]["env_steps"] for c in curves) for _, curves in found.values())
    wall = min(min(c[-1]["wall_time_s"] for c in curves) for _, curves in found.values())

    def mean_at(curves, key, x):
        vals = [success_at(c, key, x) for c in curves]
        return "n/a (no pixel actor yet)" if any(v is None for v in vals) else pct(sum(vals) / len(vals))
    rows = [row(f"{name} (`bench/results/{path}`)", len(curves), mean_at(curves, "env_steps", steps),
                mean_at(curves, "wall_time_s", wall),
                pct(sum(c[-1]["success_rate"] for c in curves) / len(curves)) + " at "
                + ", ".join(f"{steps_k(c[-1]['env_steps'])} / {c[-1]['wall_time_s'] / 60:.0f} min" for c in curves))
            for name, (path, curves) in found.items()]
    return table(["method", "seeds", f"eval success at {steps_k(steps)} env steps",
                  f"eval success at {wall / 60:.0f} min", "last eval (env steps / wall time per seed)"], rows)


def collect_speed() -> str:
    d = load("collect_speed.json")
    rows = []
    for wiring, c in d["collect"].items():
        t = d["train"][wiring]
        rows.append(row(wiring, f"{c['2_threads']['collector_cpu_ms_per_vector_step']} vs "
                                f"{c['1_thread']['collector_cpu_ms_per_vector_step']}",
                        f"{c['2_threads']['env_steps_per_s']:.0f} vs {c['1_thread']['env_steps_per_s']:.0f} "
                        f"({c['speedup_1_vs_2_threads']}x)",
                        f"{t['speedup']}x"))
    return table(["wiring (`bench/results/collect_speed.json`)", "collector CPU ms per vector step (2 vs 1 thread)",
                  "collection env steps/s (2 vs 1 thread)", "training rounds env steps/s, 1 vs 2 threads"], rows)


def learner_speed() -> str:
    d = load("learner_speed.json")
    rows = []
    for wiring, w in d["wirings"].items():
        b = w.get("breakdown_ms", {})
        parts = ", ".join(f"{k.removesuffix('_ms').replace('_', ' ')} {v}" for k, v in b.items())
        label = wiring if wiring == "state" else f"{wiring} ({d['image_size']}x{d['image_size']})"
        rows.append(row(label, w["update_ms"], w["updates_per_s"],
                        w["learner_env_steps_per_s_at_utd"], parts))
    a = d["asymmetric_64x64"]
    rows.append(row("asymmetric (64x64)", a["update_ms"], a["updates_per_s"], a["learner_env_steps_per_s_at_utd"], ""))
    t = d["asymmetric_state_teacher"]
    rows.append(row("asymmetric + state teacher (84x84)", f"critic + teacher {t['critic_and_teacher_update_ms']}, "
                    f"distillation {t['distill_update_ms']}", "", t["learner_env_steps_per_s_at_utd"], ""))
    return table(["wiring (`bench/results/learner_speed.json`)", "ms per update", "updates/s",
                  "env steps/s the learner absorbs at its UTD", "where an update goes (ms)"], rows)


def twin_parity() -> str:
    rows = []
    for p in sorted(RESULTS.glob("twin_parity_*.json")):
        d = load(p.name)
        i, dep = d["in_process"], d["deployed"]
        twin = d.get("twin", {})
        look = ", ".join(w for w, on in (("textured twin", twin.get("textures")),
                                         ("640x480 frames", twin.get("native_camera"))) if on) or "nominal twin"
        knock = d.get("perturbation")
        if knock:
            look += f", block knocked {100 * knock['m']:g} cm at step {knock['at_step']} (deployed only)"
        notes = [f"{k.replace('_', ' ')}: {'met' if v else 'NOT met'}" for k, v in d["targets"].items()]
        if "grasp_success_rate" in dep:
            notes.append(f"grasp {pct(i['grasp_success_rate'])} / {pct(dep['grasp_success_rate'])}, drops after a "
                         f"lift {pct(i['drop_rate_after_grasp'])} / {pct(dep['drop_rate_after_grasp'])}")
        rows.append(row(f"{d['task']}, {look}, `{d['actor']}` (`bench/results/{p.name}`)", d["episodes"],
                        f"{pct(i['success_rate'])} / {pct(dep['success_rate'])}",
                        " / ".join("-" if t is None else f"{t:.2f}" for t in (i["mean_time_to_success_steps"],
                                                                             dep["mean_time_to_success_steps"])),
                        f"{100 * d['interventions']['any_per_step']:.1f} %", ", ".join(notes)))
    return table(["task, actor", "episodes", "success in-process / deployed", "time to success (steps) in-process / "
                  "deployed", "safety interventions per control step", "targets, grasp (in-process / deployed)"], rows)


def robot_install() -> str:
    d = load("robot_install_size.json")
    big = lambda rows: ", ".join(f"{n} {mb:g}" for n, mb in rows[:4])  # noqa: E731
    cold = d.get("cold_start", {})
    start = lambda key: (f"{cold[key]['median_s']:.1f} s ({cold[key]['runtime']})"  # noqa: E731
                         if key in cold else "not measured")
    return table(["environment (`bench/results/robot_install_size.json`)", "site-packages MB", "largest (MB)",
                  "policy node start -> first command (median)"],
                 [row("training (`./scripts/setup_env.sh`)", d["full_mb"], big(d["full_largest_mb"]),
                      start("full venv, actor.pt")),
                  row("robot PC (`VENV=.venv-robot ./scripts/setup_env.sh requirements-robot.txt`)",
                      f"{d['robot_mb']} ({d['robot_over_full']}x)", big(d["robot_largest_mb"]),
                      start("robot venv, actor.onnx"))])


TABLES = {"sim-throughput": sim_throughput, "ros-deploy": ros_and_deploy, "learning": learning, "methods": methods,
          "collect-speed": collect_speed, "learner-speed": learner_speed, "twin-parity": twin_parity,
          "robot-install": robot_install}


def render(text: str) -> str:
    """README text with every table block re-rendered; unknown table names are an error."""
    def sub(m: re.Match) -> str:
        name = m["name"]
        if name not in TABLES:
            raise KeyError(f"README has a table block {name!r} that bench/readme_tables.py does not know")
        return m.group(1) + TABLES[name]() + m.group(4)
    return BLOCK.sub(sub, text)


def check(readme: Path = README) -> list[str]:
    """Diff lines between the README and what the result files say (empty when they agree)."""
    text = readme.read_text()
    missing = [n for n in TABLES if f"<!-- table:{n} -->" not in text]
    if missing:
        return [f"README.md lacks the table block(s): {', '.join(missing)}"]
    return list(difflib.unified_diff(text.splitlines(), render(text).splitlines(), "README.md",
                                     "README.md rendered from bench/results", lineterm=""))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="rewrite the tables in README.md")
    args = ap.parse_args()
    if args.write:
        README.write_text(render(README.read_text()))
        return 0
    diff = check()
    print("\n".join(diff) if diff else "README tables match bench/results")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
