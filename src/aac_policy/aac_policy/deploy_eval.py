"""Evaluate a running deployment against the sim twin: the sim's metrics plus the safety layer's.

    ros2 launch aac_bringup deploy_sim.launch.py actor:=runs/main/actor.pt      # the deployment
    aac_deploy_eval --episodes 20 --perturb-at 20 --out runs/deploy_eval       # in another shell

It does not act: the deployment (policy node -> safety / arm node -> twin) runs as launched. Per
episode it sets the twin's `seed` parameter (episode i: the evaluation seed base + i, the episodes the
in-process evaluation draws) and calls its reset service, follows the twin's privileged state (step, success,
reward) for `--episode-steps` control steps, and reads the arm node's intervention counts
(`aac/safety/interventions`) before and after. The first episode starts once the deployment is live: a
command from the policy node seen (`--ready-timeout`) and the arm node's first count report in, so a
policy still loading or a safety layer still discovering the camera is not scored as episode 0. With
`--perturb-at K` the block is knocked `--perturb-m` metres in a random direction at step K
(`aac/perturb`, the twin only), so the report also gives the success rate after a perturbation
("recovery"). Success = success at the last step, as in the simulator's evaluation. Writes
report.json + report.md.

With `--actor <actor.pt>` (the actor the deployment runs) the same exported file is also evaluated
in-process on the twin's own sim config (no ROS, no safety layer), and the report puts in-process and
deployed success, time-to-success and the safety interventions per control step side by side: a
policy trained with the deployment's motion limits should differ only by noise and trigger no
intervention in nominal operation.

On the real robot there is no privileged state: success needs an external judge, so this runs on
the twin only (real runs are recorded by aac_recorder_node and counted by the safety layer).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from geometry_msgs.msg import TwistStamped, Vector3Stamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float32MultiArray, String
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from aac_robot import ros_interface as ri
from aac_robot.node_main import BackgroundSpin
from aac_robot.metrics import GRASP_TASKS, EpisodeResult, add_grasp_fields, summarize
from aac_robot.ros_convert import unpack_labelled

from .ros_env import call_service

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)


def episode_result(rows: list[dict], steps: int, grasp: tuple[dict, float] | None = None,
                   task: str | None = None) -> EpisodeResult:
    """Episode result from the twin's privileged rows (step, is_success, reward) of steps 1..`steps`.
    `grasp` = (state layout, success threshold m) for pick / pick_place: grasped and dropped (and for `task`
    pick_place whether the goal was in the air) are computed from the rows' privileged states as in the
    simulator's evaluation (aac_robot.metrics.add_grasp_fields)."""
    by_step = {int(r["step"][0]): r for r in rows if 1 <= int(r["step"][0]) <= steps}
    if steps not in by_step:
        raise RuntimeError(f"the twin did not reach step {steps} (got up to {max(by_step, default=0)})")
    first = next((t for t in sorted(by_step) if by_step[t]["is_success"][0] > 0.5), None)
    ret = float(sum(by_step[t]["reward"][0] for t in by_step))
    result = EpisodeResult(bool(by_step[steps]["is_success"][0] > 0.5), first, ret, steps)
    if grasp is not None:
        layout, threshold = grasp
        order = sorted(by_step)   # the first row is step 1: its block height is where the block started
        add_grasp_fields(result, task, np.array([by_step[t]["state"] for t in order]),
                         np.array([by_step[t]["desired_goal"] for t in order]), layout, threshold)
    return result


def counts_delta(before: dict | None, after: dict | None) -> dict[str, int]:
    if after is None:
        return {}
    base = Counter((before or {}).get("counts", {}))
    return {k: int(v - base.get(k, 0)) for k, v in after.get("counts", {}).items() if v - base.get(k, 0) > 0}


def report(results: list[EpisodeResult], interventions: list[dict], perturbed: list[bool], meta: dict) -> dict:
    out = {**meta, "overall": summarize(results)}
    total = Counter()
    for c in interventions:
        total.update(c)
    steps = sum(r.length for r in results)
    out["interventions"] = {"total": dict(total), "episodes_with_interventions": sum(1 for c in interventions if c),
                            "per_step": {k: v / max(steps, 1) for k, v in total.items()},
                            "any_per_step": sum(total.values()) / max(steps, 1), "control_steps": steps,
                            "safety_node_seen": meta.get("safety_node_seen", False)}
    if any(perturbed):
        out["after_perturbation"] = summarize([r for r, p in zip(results, perturbed) if p])
    out["episodes"] = [{**r.to_dict(), "interventions": c, "perturbed": p}
                       for r, c, p in zip(results, interventions, perturbed)]
    return out


def markdown(rep: dict) -> str:
    o = rep["overall"]
    lines = [f"# Deployment eval (twin: /{rep['namespace']})", "",
             f"- episodes: {o['episodes']}, {rep['episode_steps']} control steps each",
             f"- success rate: {o['success_rate']:.2f}",
             f"- mean time to success: {o['mean_time_to_success_steps']} steps",
             f"- mean return: {o['mean_return']:.2f}"]
    if "grasp_success_rate" in o:
        drops = o["drop_rate_after_grasp"]
        lines.append(f"- grasp success: {o['grasp_success_rate']:.2f}; drops after a lift: "
                     f"{'-' if drops is None else f'{drops:.2f}'} (share of grasped episodes)")
    if "after_perturbation" in rep:
        a = rep["after_perturbation"]
        lines.append(f"- success after a {rep['perturb_m']} m block perturbation at step {rep['perturb_at']}: "
                     f"{a['success_rate']:.2f} ({a['episodes']} episodes)")
    iv = rep["interventions"]
    if iv["safety_node_seen"]:
        lines.append(f"- safety interventions: {iv['total'] or 'none'} "
                     f"({iv['episodes_with_interventions']} episodes with any; "
                     f"{100 * iv['any_per_step']:.2f} % of {iv['control_steps']} control steps)")
    else:
        lines.append("- safety interventions: no safety node reported (is aac_arm_node running?)")
    if "in_process" in rep:
        ip, o = rep["in_process"]["overall"], rep["overall"]
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        lines += ["", "| same exported actor | success | mean time to success (steps) | interventions per step |",
                  "| --- | --- | --- | --- |",
                  f"| in-process (sim, no ROS, no safety layer) | {ip['success_rate']:.2f} | "
                  f"{fmt(ip['mean_time_to_success_steps'])} | - |",
                  f"| deployed (policy node -> safety layer -> twin) | {o['success_rate']:.2f} | "
                  f"{fmt(o['mean_time_to_success_steps'])} | {iv['any_per_step']:.4f} |"]
    return "\n".join(lines) + "\n"


def evaluate_in_process(actor: str | Path, sim_config: dict, episodes: int) -> dict:
    """The exported actor on the twin's own sim config, in this process (the reference for the twin)."""
    from aac_sim.config import SimConfig
    from aac_sim.env import AacPandaEnv
    from aac_sim.rollout import EVAL_SEED_BASE, run_episodes

    from .evaluate import actor_policy, check_actor_matches
    from .export import load_actor
    module, spec = load_actor(actor)
    sim = SimConfig.from_dict(sim_config)
    check_actor_matches(spec, sim)
    env = AacPandaEnv(config=sim)
    try:
        results, _ = run_episodes(env, actor_policy(module, spec), episodes, seed=EVAL_SEED_BASE)
    finally:
        env.close()
    return {"actor": str(actor), "overall": summarize(results)}


class TwinEvaluator:
    def __init__(self, node, namespace: str, step_timeout_s: float = 5.0):
        self.node, self.ns = node, namespace.strip("/")
        pre = f"/{self.ns}/" if self.ns else "/"
        self.cond = threading.Condition()
        self.rows: list[dict] = []
        self.episode = None
        self.interventions: dict | None = None
        self.info: dict | None = None
        self.policy_commands = 0
        self.step_timeout_s = step_timeout_s
        self.policy_topic = pre + ri.POLICY_TWIST
        node.create_subscription(Float32MultiArray, pre + ri.PRIVILEGED_STATE, self._on_priv, 100)
        node.create_subscription(String, pre + ri.INTERVENTIONS, self._on_interventions, 10)
        node.create_subscription(TwistStamped, self.policy_topic, self._on_policy_command, 10)
        node.create_subscription(String, pre + ri.SIM_INFO, self._on_info, LATCHED)
        self.pub_perturb = node.create_publisher(Vector3Stamped, pre + ri.PERTURB, 10)
        self.reset_client = node.create_client(Trigger, pre + ri.RESET_SERVICE)
        self.param_client = None

    def _on_priv(self, msg) -> None:
        _, seg = unpack_labelled(msg)
        with self.cond:
            if self.episode is not None and int(seg["episode"][0]) == self.episode:
                self.rows.append(seg)
                self.cond.notify_all()

    def _on_interventions(self, msg) -> None:
        self.interventions = json.loads(msg.data)

    def _on_policy_command(self, msg) -> None:
        self.policy_commands += 1

    def wait_until_live(self, policy_timeout_s: float | None, report_timeout_s: float = 3.0) -> None:
        """Block until the deployment acts: a policy command seen (None: do not wait for one) and then
        the arm node's count report (published at 1 Hz; a deployment without a safety node waits
        `report_timeout_s` and goes on without counts). Episode 0's intervention baseline is that
        report, not zero: ticks while the policy loaded or the camera was discovered are not its."""
        if policy_timeout_s is not None:
            end = time.monotonic() + policy_timeout_s
            while self.policy_commands == 0:
                if time.monotonic() > end:
                    raise RuntimeError(f"no policy command on {self.policy_topic} within {policy_timeout_s:g} s: "
                                       "is aac_policy_node running, with camera frames, joint states and a goal? "
                                       "(--ready-timeout 0 starts without waiting)")
                time.sleep(0.05)
        seen = self.interventions
        end = time.monotonic() + report_timeout_s
        while self.interventions is seen and time.monotonic() < end:   # a report sent after the policy acted
            time.sleep(0.05)

    def _on_info(self, msg) -> None:
        self.info = json.loads(msg.data)

    def set_seed(self, seed: int) -> None:
        """The twin's next reset draws episode `seed` (its `seed` parameter): the same episode as the
        in-process env's reset(seed=...), so the two evaluations compare like with like."""
        if self.param_client is None:
            self.param_client = self.node.create_client(SetParameters, f"{self.info['node']}/set_parameters")
            if not self.param_client.wait_for_service(timeout_sec=30):
                raise RuntimeError(f"no parameter service on {self.info['node']}")
        request = SetParameters.Request(parameters=[Parameter("seed", Parameter.Type.INTEGER, int(seed)).to_parameter_msg()])
        result = call_service(self.param_client, request, 10.0, attempts=3)
        if result is None or not result.results[0].successful:
            raise RuntimeError(f"the twin did not take seed {seed}: "
                               f"{'no answer' if result is None else result.results[0].reason}")

    def run_episode(self, steps: int, perturb_at: int | None, perturb_m: float, rng,
                    seed: int | None = None) -> tuple[EpisodeResult, dict]:
        if not self.reset_client.wait_for_service(timeout_sec=30):
            raise RuntimeError(f"no reset service on /{self.ns} (is the twin running?)")
        if seed is not None:
            self.set_seed(seed)
        before = self.interventions
        with self.cond:
            self.rows, self.episode = [], None
        result = call_service(self.reset_client, Trigger.Request(), 10.0, attempts=3)   # a lost answer: again
        if result is None:
            raise RuntimeError(f"the reset service of /{self.ns} did not answer (3 calls, 10 s each)")
        with self.cond:
            self.episode = json.loads(result.message)["episode"]
            self.rows = []
        perturbed = False
        last = 0
        with self.cond:
            while last < steps:
                if not self.cond.wait(self.step_timeout_s):
                    raise RuntimeError(f"the twin stopped publishing (at step {last})")
                last = max(int(r["step"][0]) for r in self.rows) if self.rows else 0
                if perturb_at is not None and not perturbed and last >= perturb_at:
                    angle = rng.uniform(0, 2 * np.pi)
                    msg = Vector3Stamped()
                    msg.header.frame_id = ri.BASE_FRAME
                    msg.vector.x, msg.vector.y = perturb_m * np.cos(angle), perturb_m * np.sin(angle)
                    self.pub_perturb.publish(msg)
                    perturbed = True
            rows = list(self.rows)
        time.sleep(1.2)   # the arm node reports its counts at 1 Hz
        grasp = None
        if self.info["task"] in GRASP_TASKS:
            layout = {k: slice(a, b) for k, (a, b) in self.info["state_layout"].items()}
            grasp = (layout, float(self.info["distance_threshold_m"]))
        return episode_result(rows, steps, grasp, task=self.info["task"]), {
            "counts": counts_delta(before, self.interventions), "perturbed": perturbed}


def evaluate_twin(node, namespace: str, episodes: int, episode_steps: int | None = None,
                  perturb_at: int | None = None, perturb_m: float = 0.05, seed: int = 0,
                  episode_seed: int | None = None, wait_for_policy_s: float | None = 60.0) -> dict:
    """`episode_seed`: episode i is the twin's reset with seed episode_seed + i (the in-process reference
    uses the same, EVAL_SEED_BASE); None: the twin's own episode stream. `wait_for_policy_s`: how long to
    wait for the policy node's first command before episode 0 (None: start without one)."""
    ev = TwinEvaluator(node, namespace)
    end = time.monotonic() + 30
    while ev.info is None and time.monotonic() < end:
        time.sleep(0.05)
    if ev.info is None:
        raise RuntimeError(f"no sim twin found on /{namespace.strip('/')} (aac/sim_info)")
    if ev.info.get("mode") != "realtime":
        raise RuntimeError("the twin runs in lockstep mode; a deployment eval needs mode:=realtime")
    steps = episode_steps or int(ev.info["max_episode_steps"])
    if perturb_at is not None and ev.info["task"] == "reach":
        raise RuntimeError("reach has no block to perturb; drop --perturb-at")
    ev.wait_until_live(wait_for_policy_s)
    rng = np.random.default_rng(seed)
    results, counts, perturbed = [], [], []
    for i in range(episodes):
        r, extra = ev.run_episode(steps, perturb_at, perturb_m, rng,
                                  None if episode_seed is None else episode_seed + i)
        results.append(r)
        counts.append(extra["counts"])
        perturbed.append(extra["perturbed"])
    meta = {"namespace": namespace.strip("/"), "task": ev.info["task"], "episode_steps": steps,
            "control_dt": ev.info["control_dt"], "perturb_at": perturb_at, "perturb_m": perturb_m,
            "safety_node_seen": ev.interventions is not None, "sim_config": ev.info.get("config")}
    return report(results, counts, perturbed, meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--namespace", default="", help="the twin's namespace ('' = root, as deploy_sim launches it)")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--episode-steps", type=int, default=None, help="default: the twin's max_episode_steps")
    ap.add_argument("--perturb-at", type=int, default=None, help="knock the block at this step")
    ap.add_argument("--perturb-m", type=float, default=0.05)
    ap.add_argument("--actor", default=None, help="the deployed actor.pt: also evaluate it in-process on the "
                    "twin's sim config and report both side by side")
    ap.add_argument("--ready-timeout", type=float, default=60.0,
                    help="seconds to wait for the policy node's first command before episode 0 (0: do not wait)")
    ap.add_argument("--out", default="runs/deploy_eval")
    args = ap.parse_args(argv)
    from aac_sim.rollout import EVAL_SEED_BASE   # the in-process evaluation's episodes: the same on the twin
    try:
        with BackgroundSpin("aac_deploy_eval") as node:
            rep = evaluate_twin(node, args.namespace, args.episodes, args.episode_steps, args.perturb_at,
                                args.perturb_m, episode_seed=EVAL_SEED_BASE,
                                wait_for_policy_s=args.ready_timeout or None)
        if args.actor:
            rep["in_process"] = evaluate_in_process(args.actor, rep["sim_config"], args.episodes)
    except (RuntimeError, ValueError) as exc:
        print(f"aac_deploy_eval: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(rep, indent=2))
    (out / "report.md").write_text(markdown(rep))
    print(markdown(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
