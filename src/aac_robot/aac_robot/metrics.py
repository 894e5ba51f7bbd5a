"""Episode metrics shared by the simulator's evaluation, the sim-twin evaluation and real-robot episodes:
one episode's result (success, time-to-success, return, grasp events) and the summary every report uses.

Plain numpy: the robot side (aac_driver.episodes) writes the same report fields as the simulator."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class EpisodeResult:
    success: bool               # success at the last step (the task's criterion, as in HER)
    first_success_step: int | None
    episode_return: float
    length: int
    # grasp tasks (pick, pick_place), from the privileged state of every step (`grasp_events`); None otherwise
    grasped: bool | None = None     # the block was held (both fingers on it, off the table) at some step
    dropped: bool | None = None     # after being lifted while held, it was let go away from the goal
    # pick_place: was the goal in the air (reached only holding the block there) or on the table (`goal_in_air`)
    goal_in_air: bool | None = None

    def to_dict(self) -> dict:
        return asdict(self)


GRASP_TASKS = ("pick", "pick_place")
LIFT_M = 0.02   # "lifted": the block's centre this far above where it started
ON_TABLE_TOLERANCE_M = 0.01     # a goal this close to the resting height of the block's centre is on the table


def held(contacts) -> np.ndarray:
    """Is the block held: both finger contacts and no table contact (the privileged state's `contacts`, left
    finger, right finger, table; over the last axis, so one state or a whole episode)."""
    c = np.asarray(contacts) > 0.5
    return c[..., 0] & c[..., 1] & ~c[..., 2]


def grasp_events(states: np.ndarray, goals: np.ndarray, layout: dict, threshold_m: float) -> tuple[bool, bool]:
    """(grasped, dropped) of one episode from its privileged states (T+1, state_dim, reset included) and
    desired goals. Held = both finger contacts and no table contact. Dropped = after a step where it was
    held and lifted, a later step where it is no longer held and is back on the table while farther than
    `threshold_m` from the goal (a place at the goal, pick_place's release, is not a drop)."""
    contacts = states[:, layout["contacts"]]
    in_hand = held(contacts)
    obj = states[:, layout["object_pos"]]
    lifted = in_hand & (obj[:, 2] > obj[0, 2] + LIFT_M)
    if not lifted.any():
        return bool(in_hand.any()), False
    after = np.arange(len(states)) > int(np.argmax(lifted))
    away = np.linalg.norm(obj - goals, axis=1) > threshold_m
    return True, bool((after & ~in_hand & (contacts[:, 2] > 0.5) & away).any())


def above_table(goal_z: float, rest_z: float) -> bool:
    """Is a goal height in the air: above the height the block's centre rests at by more than
    ON_TABLE_TOLERANCE_M? (pick_place's success rule and its report split both ask this.)"""
    return bool(goal_z > rest_z + ON_TABLE_TOLERANCE_M)


def goal_in_air(states: np.ndarray, goals: np.ndarray, layout: dict) -> bool:
    """pick_place: is the episode's goal in the air (the block's centre at the first state is where it rests)?
    Air goals need a grasp; table goals can be pushed to."""
    return above_table(goals[0][2], states[0][layout["object_pos"]][2])


def add_grasp_fields(result: EpisodeResult, task: str | None, states: np.ndarray, goals: np.ndarray,
                     layout: dict, threshold_m: float) -> EpisodeResult:
    """Fill a grasp task's episode result from its privileged states and goals (the simulator's and the twin's
    evaluation alike): grasped and dropped, and for pick_place whether the goal was in the air."""
    result.grasped, result.dropped = grasp_events(states, goals, layout, threshold_m)
    if task == "pick_place":
        result.goal_in_air = goal_in_air(states, goals, layout)
    return result


def summarize(results: list[EpisodeResult]) -> dict:
    succ = [r.success for r in results]
    tts = [r.first_success_step for r in results if r.success and r.first_success_step is not None]
    out = {"episodes": len(results),
           "success_rate": float(np.mean(succ)) if results else float("nan"),
           "mean_time_to_success_steps": float(np.mean(tts)) if tts else None,
           "mean_return": float(np.mean([r.episode_return for r in results])) if results else float("nan")}
    grasp = [r for r in results if r.grasped is not None]
    if grasp:   # grasp tasks: how often the block was held, and how often a lifted block was dropped
        lifted = [r for r in grasp if r.grasped]
        out["grasp_success_rate"] = float(np.mean([r.grasped for r in grasp]))
        out["drop_rate_after_grasp"] = float(np.mean([r.dropped for r in lifted])) if lifted else None
    split = [r for r in results if r.goal_in_air is not None]
    if split:   # pick_place: success and grasps apart for goals in the air and on the table (None: no such goal)
        for kind, in_air in (("goal_in_air", True), ("goal_on_table", False)):
            these = [r for r in split if r.goal_in_air == in_air]
            out[f"episodes_{kind}"] = len(these)
            out[f"success_rate_{kind}"] = float(np.mean([r.success for r in these])) if these else None
            out[f"grasp_success_rate_{kind}"] = float(np.mean([bool(r.grasped) for r in these])) if these else None
    return out
