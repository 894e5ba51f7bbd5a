"""Goal-conditioned Panda tasks: what is sampled at reset and what counts as achieved.

All positions are in the robot base frame (`panda_link0`), metres; the table top is z = 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aac_robot.metrics import above_table

# Where blocks start and on-table goals lie: in front of the robot, inside the camera view.
OBJECT_XY_LOW = np.array([0.38, -0.15])
OBJECT_XY_HIGH = np.array([0.62, 0.15])
REACH_GOAL_LOW = np.array([0.30, -0.20, 0.03])
REACH_GOAL_HIGH = np.array([0.65, 0.20, 0.30])
MIN_GOAL_OBJECT_DIST = 0.10     # on-table goals are never already solved at reset
PICK_LIFT_M = (0.08, 0.20)      # pick: lift the block this high above where it starts
PLACE_AIR_Z = (0.06, 0.22)      # pick_place: height of goals in the air (block centre)
PLACE_AIR_PROB = 0.5


@dataclass(frozen=True)
class TaskSample:
    object_pos: np.ndarray | None   # block centre at reset (None for tasks without a block)
    goal: np.ndarray


# Object tasks start with the grasp point this low above the middle of the block region (as in
# FetchPush, ~10 cm over the table): from the 23 cm neutral pose, random exploration rarely
# touched the block, and the state-based learner saw no success for 140k push steps.
OBJECT_TASK_EE_START = (0.50, 0.0, 0.10)


class Task:
    name: str = ""
    has_object: bool = True
    ee_start: tuple[float, float, float] | None = OBJECT_TASK_EE_START   # None: the neutral arm pose

    def sample(self, rng: np.random.Generator, object_size: float) -> TaskSample:
        raise NotImplementedError

    def success(self, at_goal: bool, held: bool, goal: np.ndarray, object_size: float) -> bool:
        """The episode's success (`info["is_success"]`, what evaluation counts) from whether the achieved goal
        is within the threshold of the goal and whether the block is held (both fingers on it, off the table).
        The reward HER relabels stays the distance alone (`compute_reward`): a relabelled goal in the air
        was reached by a block in the air, which is held (or in flight: success says which)."""
        return at_goal

    @staticmethod
    def _object_and_table_goal(rng, half):
        obj_xy = rng.uniform(OBJECT_XY_LOW, OBJECT_XY_HIGH)
        while True:  # rejection sampling; the region is large enough that this ends fast
            goal_xy = rng.uniform(OBJECT_XY_LOW, OBJECT_XY_HIGH)
            if np.linalg.norm(goal_xy - obj_xy) >= MIN_GOAL_OBJECT_DIST:
                return np.array([*obj_xy, half]), np.array([*goal_xy, half])


class Reach(Task):
    name, has_object, ee_start = "reach", False, None

    def sample(self, rng, object_size):
        return TaskSample(None, rng.uniform(REACH_GOAL_LOW, REACH_GOAL_HIGH))


class Push(Task):
    name = "push"

    def sample(self, rng, object_size):
        obj, goal = self._object_and_table_goal(rng, object_size / 2)
        return TaskSample(obj, goal)


class Pick(Task):
    """Grasp the block and lift it to a height above where it started."""
    name = "pick"

    def sample(self, rng, object_size):
        obj_xy = rng.uniform(OBJECT_XY_LOW, OBJECT_XY_HIGH)
        obj = np.array([*obj_xy, object_size / 2])
        return TaskSample(obj, obj + np.array([0.0, 0.0, rng.uniform(*PICK_LIFT_M)]))

    def success(self, at_goal, held, goal, object_size):
        return at_goal and held   # in the hand at the goal height: a block tossed up through it is no pick


class PickPlace(Task):
    """Move the block to a goal on the table or in the air (as FetchPickAndPlace)."""
    name = "pick_place"

    def sample(self, rng, object_size):
        obj, goal = self._object_and_table_goal(rng, object_size / 2)
        if rng.uniform() < PLACE_AIR_PROB:
            goal[2] = rng.uniform(*PLACE_AIR_Z)
        return TaskSample(obj, goal)

    def success(self, at_goal, held, goal, object_size):
        # a goal in the air is reached only holding the block there; one on the table by the block lying
        # (or held) at it, as FetchPickAndPlace
        return at_goal and (held or not above_table(goal[2], object_size / 2))


TASK_CLASSES = {cls.name: cls for cls in (Reach, Push, Pick, PickPlace)}


def make_task(name: str) -> Task:
    try:
        return TASK_CLASSES[name]()
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASK_CLASSES)}") from None


def goal_distance(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(achieved) - np.asarray(desired), axis=-1)
