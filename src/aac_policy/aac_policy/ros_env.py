"""A vector env over N namespaced sim nodes, driven in lockstep over DDS (rclpy).

It has the surface the Trainer's collector uses (`num_envs`, `reset(seed)`, `step(actions)`,
`close()`), so training over ROS feeds exactly the same learner as the in-process path.

Per step and sim: publish a gripper JointTrajectory and a TwistStamped, both stamped with the
observation they answer; the sim steps once and publishes its observation topics with a new stamp.
Topics are matched by stamp: an observation is complete when colour, depth and privileged state
with the same stamp have arrived (the privileged message also carries proprio and the goal, which
the sim publishes on their own topics too: 3 messages per step instead of 5 cut the round trip).
Those topics are taken by the thread that calls reset/step, while it waits for them (a TakeLoop,
no executor hop); the owner's node keeps an executor for the rest (sim_info, services). One thread
drives the env.

Failure handling: a sim that does not answer within `step_timeout_s` (dead, hung; a reset is sent
once more first, see call_service) is dropped: the env reports it in `info["dropped"]` for the
rest of the episode (the collector discards that episode: nothing partial enters replay). At
every reset, dropped sims that are back (their `aac/sim_info` publisher exists again and the reset
service answers) are re-admitted. If no sim is alive, reset waits for one, logging while it does.
"""
from __future__ import annotations

import json
import threading
import time

import numpy as np
from gymnasium import spaces
from geometry_msgs.msg import TwistStamped
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from aac_robot import ros_interface as ri
from aac_sim.config import SEG_KEY, ConfigError, SimConfig, from_dict
from aac_sim.env import observation_space
from aac_robot.node_main import QUIET_PUB
from aac_robot.ros_convert import (MessageError, gripper_command, image_to_depth_mm, image_to_labels, image_to_rgb,
                                   ns_from_stamp, stamp_from_ns, twist_stamped, unpack_labelled)
from aac_robot.motion import MotionLimits, action_to_command
from aac_sim.take_loop import TakeLoop

from .checkpoint import config_mismatch

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
PARTS = ("rgb", "depth", "privileged")
VEC_KEYS = ("proprio", "desired_goal", "state", "achieved_goal")   # read from the privileged message
READERS = {"rgb": image_to_rgb, "depth": image_to_depth_mm, SEG_KEY: image_to_labels}   # image topic -> array
# sim config fields that may differ between trainer and sim (the trainer does not render for `state`)
IGNORED_SIM_FIELDS = {"render_images", "camera_intrinsics", "camera_extrinsics"}


class SimIncompatible(ConfigError):
    """The sim node runs a different task / image size / config than the trainer expects."""


class SimClient:
    """One sim node as seen from the trainer. `_on_info` runs in the executor thread; the observation
    callbacks run in the thread that calls the env's reset/step, inside `obs_loop.spin_once`."""

    def __init__(self, node, obs_loop: TakeLoop, namespace: str, lock: threading.Lock, camera_namespace: str,
                 need_images: bool, need_seg: bool = False):
        self.node, self.ns, self.lock = node, namespace.strip("/"), lock
        self.need = PARTS if need_images else ("privileged",)   # the state wiring needs no images
        self.need += (SEG_KEY,) if need_seg else ()             # the surface classes re-texturing reads
        pre = f"/{self.ns}/" if self.ns else "/"
        cam = camera_namespace.strip("/")
        self.info: dict | None = None
        self.info_version = 0          # bumps when a (re)started sim announces itself
        self.parts: dict[int, dict] = {}
        self.expected_size: tuple[int, int] | None = None
        self.pub_twist = node.create_publisher(TwistStamped, pre + ri.TWIST_COMMAND, 10, event_callbacks=QUIET_PUB)
        self.pub_gripper = node.create_publisher(
            JointTrajectory, pre + f"{ri.DEFAULT_GRIPPER_CONTROLLER}/{ri.JOINT_TRAJECTORY}", 10,
            event_callbacks=QUIET_PUB)
        self.reset_client = node.create_client(Trigger, pre + ri.RESET_SERVICE)
        self.info_topic = pre + ri.SIM_INFO
        node.create_subscription(String, self.info_topic, self._on_info, LATCHED)
        # the per-step topics are taken by the thread that waits for them (no executor, see TakeLoop)
        obs_loop.subscribe(Image, f"{pre}{cam}/{ri.COLOR_IMAGE}", lambda m: self._on_image("rgb", m))
        obs_loop.subscribe(Image, f"{pre}{cam}/{ri.DEPTH_IMAGE}", lambda m: self._on_image("depth", m))
        obs_loop.subscribe(Float32MultiArray, pre + ri.PRIVILEGED_STATE, lambda m: self._on_array("privileged", m))
        if need_seg:
            obs_loop.subscribe(Image, pre + ri.PRIVILEGED_SEGMENTATION, lambda m: self._on_image(SEG_KEY, m))
        # the seed is the one parameter the trainer sets: one SetParameters client, not the six of an
        # AsyncParameterClient (every client is in the executor's wait set on every wake-up)
        self.param_client = None
        self.param_client_version = -1
        self.dropped_at_version: int | None = None   # info_version when dropped; a restart bumps it

    # ------------------------------------------------------------------ callbacks (executor thread)
    def _on_info(self, msg: String) -> None:
        with self.lock:
            self.info = json.loads(msg.data)
            self.info_version += 1
            size = self.info["image_size"]
            self.expected_size = (size, size)

    def _put(self, stamp: int, key: str, value) -> None:
        self.parts.setdefault(stamp, {})[key] = value
        if len(self.parts) > 64:   # drop stale partial observations
            for s in sorted(self.parts)[:-32]:
                del self.parts[s]

    def _on_image(self, key: str, msg: Image) -> None:
        try:
            value = READERS[key](msg, self.expected_size)
        except MessageError as exc:
            self.node.get_logger().error(f"/{self.ns}: dropped {key} image: {exc}")
            return
        self._put(ns_from_stamp(msg.header.stamp), key, value)

    def _on_array(self, key: str, msg: Float32MultiArray) -> None:
        try:
            stamp, seg = unpack_labelled(msg)
        except MessageError as exc:
            self.node.get_logger().error(f"/{self.ns}: dropped {key}: {exc}")
            return
        self._put(stamp, key, seg)

    # ------------------------------------------------------------------ main-thread helpers
    def _is_complete(self, got: dict | None) -> bool:
        return got is not None and all(k in got for k in self.need)

    def complete(self, stamp: int) -> dict | None:
        return self.parts.pop(stamp) if self._is_complete(self.parts.get(stamp)) else None

    def newer_complete(self, after: int) -> tuple[int, dict] | None:
        for stamp in sorted(s for s in self.parts if s > after):
            got = self.complete(stamp)
            if got is not None:
                return stamp, got
        return None

    def publisher_alive(self) -> bool:
        return self.node.count_publishers(self.info_topic) > 0


def _wait_future(future, timeout: float) -> bool:
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    return done.wait(timeout) and future.done()


def _answer(client, future, timeout_s: float):
    """The response to a call, or None after `timeout_s`; then the call is no longer pending, so a
    late answer to it is dropped instead of kept forever."""
    if _wait_future(future, timeout_s):
        return future.result()
    client.remove_pending_request(future)
    return None


def call_service(client, request, timeout_s: float, attempts: int = 2, on_retry=None):
    """The response, or None when none of `attempts` calls is answered within `timeout_s` each.

    A response can be lost although the server ran the request: rmw_fastrtps waits only the response
    writer's max_blocking_time (100 ms) for the server to discover the client's response reader, and
    just after `wait_for_service` on a loaded machine it may not have yet ("failed to send response
    (timeout): client will not receive response" in the server's log). So the call is sent again;
    only requests that may run twice belong here (setting a parameter; a reset, whose second run
    starts the episode the caller then uses). `on_retry(attempt)` is called before each re-send."""
    for attempt in range(attempts):
        if attempt and on_retry is not None:
            on_retry(attempt)
        result = _answer(client, client.call_async(request), timeout_s)
        if result is not None:
            return result
    return None


class RosVectorEnv:
    def __init__(self, node, namespaces: list[str], sim_config: dict, episode_steps: int, image_keys: bool,
                 step_timeout_s: float = 2.0, camera_namespace: str = ri.DEFAULT_CAMERA_NAMESPACE,
                 connect_timeout_s: float = 30.0, step_reliability: str = "best_effort"):
        if not namespaces:
            raise ConfigError("sim_namespaces is empty: name at least one sim node namespace")
        self.node, self.sim_config, self.T = node, sim_config, episode_steps
        self.motion = MotionLimits.from_dict(sim_config.get("motion", {}))   # the sims' config is checked against it
        self.need_images = image_keys
        # observation keys sent beside the spec's: the surface classes of a sim config with `segmentation`
        self.extra_keys = (SEG_KEY,) if image_keys and sim_config.get("segmentation") else ()
        self.step_timeout_s, self.connect_timeout_s = step_timeout_s, connect_timeout_s
        self.lock = threading.Lock()   # guards what the executor thread writes (sim_info)
        self.obs_loop = TakeLoop(node, reliability=step_reliability)
        self.clients = [SimClient(node, self.obs_loop, ns, self.lock, camera_namespace, image_keys,
                                  need_seg=bool(self.extra_keys)) for ns in namespaces]
        self.num_envs = len(self.clients)
        self.stamps = np.zeros(self.num_envs, dtype=np.int64)
        self.dropped = np.zeros(self.num_envs, dtype=bool)
        self.last_obs: list[dict | None] = [None] * self.num_envs
        self.steps = 0
        self._checked_version = [0] * self.num_envs
        self._handed = [-1] * self.num_envs   # info_version of each sim when it was handed the trainer's config
        self.drops = self.readmissions = 0

    @property
    def single_observation_space(self) -> spaces.Dict:
        """The space of one sim's observation as this env returns it: the keys it reads from the sims (the
        state, and the images when `image_keys`, with the surface classes when the config segments) with the
        spaces an in-process env of the same sim config has. A config no sim can run, or one whose sims would not
        send a key this env waits for (images from a config that renders none), raises ConfigError."""
        cfg = from_dict(SimConfig, self.sim_config)
        full = observation_space(cfg).spaces
        sent = VEC_KEYS + (("rgb", "depth") if self.need_images else ()) + self.extra_keys
        absent = [k for k in sent if k not in full]
        if absent:
            raise ConfigError(f"this env waits for {absent} from the sims, which their config does not give "
                              f"(render_images: {cfg.render_images})")
        return spaces.Dict({k: full[k] for k in sent})

    # ------------------------------------------------------------------ validation / liveness
    def _check(self, i: int) -> bool:
        """True when sim i runs the trainer's sim config. A lockstep sim that runs another one is handed the
        trainer's (its `trainer_sim_config` parameter: the trainer's config is the one source) and is ready once
        it announces it; a sim that refuses it, or runs realtime, is refused naming the fields that differ."""
        c = self.clients[i]
        mine, theirs = ({k: v for k, v in d.items() if k not in IGNORED_SIM_FIELDS}
                        for d in (self.sim_config, c.info.get("config", {})))
        diffs = config_mismatch(mine, theirs, labels=("trainer", "sim"))
        # handed over to a sim that runs its launch parameters (fresh or restarted) or another trainer's config;
        # one that runs a handed config and still differs did not take ours: refused below
        if diffs and c.info.get("mode") == "lockstep" and (not c.info.get("trainer_config") or self._handed[i] < 0) \
                and self._handed[i] != c.info_version:
            why = self._set_parameter(i, Parameter("trainer_sim_config", Parameter.Type.STRING,
                                                   json.dumps(mine)), "the trainer's sim config")
            if why is None:
                self._handed[i] = c.info_version
                self.node.get_logger().info(f"sim /{c.ns}: handed the trainer's sim config ({'; '.join(diffs)})")
            return False   # ready when it announces the new config (a new sim_info)
        if diffs:
            raise SimIncompatible(f"sim /{c.ns} ({c.info.get('node')}) does not match the trainer's sim config:\n  "
                                  + "\n  ".join(diffs))
        if c.info.get("camera_resolution", "policy") != "policy":
            raise SimIncompatible(f"sim /{c.ns} publishes the camera's full frames (camera_resolution "
                                  f"{c.info.get('camera_resolution')!r}); training reads policy-size frames: "
                                  "camera_resolution:=policy")
        if c.info.get("mode") != "lockstep":
            raise SimIncompatible(f"sim /{c.ns} runs in {c.info.get('mode')!r} mode; training needs mode:=lockstep")
        self._checked_version[i] = c.info_version
        return True

    def _ready(self, i: int) -> bool:
        c = self.clients[i]
        with self.lock:
            have_info = c.info is not None
        if not (have_info and c.publisher_alive() and c.reset_client.service_is_ready()):
            return False
        if c.dropped_at_version is not None and c.info_version == c.dropped_at_version:
            return False   # dropped and not announced again (a dead node's endpoints linger in the graph)
        if self._checked_version[i] != c.info_version:
            return self._check(i)
        return True

    def _drop(self, i: int, why: str) -> None:
        if not self.dropped[i]:
            self.drops += 1
            self.node.get_logger().warning(f"sim /{self.clients[i].ns} dropped ({why}); its partial episode "
                                           "is discarded")
        self.dropped[i] = True
        c = self.clients[i]
        if c.dropped_at_version is None:
            c.dropped_at_version = c.info_version

    # ------------------------------------------------------------------ gymnasium-like surface
    def reset(self, seed: int | None = None, options=None):
        if options and "reset_mask" in options:
            raise NotImplementedError("sims over ROS reset together: they need fixed-length episodes (the AAC "
                                      "tasks end by time limit); an env that ends episodes early trains in-process")
        unsupported = sorted(set(options or {}) - {"reset_mask"})
        if unsupported:   # the sim node's reset service takes no options: refused, not silently dropped
            raise NotImplementedError(f"reset options {unsupported} (training curricula of the in-process sim) do "
                                      f"not reach sims over ROS: set them to 0 or train in-process (aac_train)")
        deadline = time.monotonic() + self.connect_timeout_s
        while True:
            ready = [self._ready(i) for i in range(self.num_envs)]
            if all(ready) or (any(ready) and time.monotonic() > deadline):
                break
            if time.monotonic() > deadline:
                waiting = [c.ns for c, r in zip(self.clients, ready) if not r]
                self.node.get_logger().warning(f"no sim node is answering ({waiting}); waiting")
                deadline = time.monotonic() + self.connect_timeout_s
            time.sleep(0.05)
        self.dropped[:] = False
        self.obs_loop.take_all()   # whatever is still in flight belongs to the old episode
        futures = {}
        for i, c in enumerate(self.clients):
            if not ready[i]:
                self._drop(i, "not available at reset")
                continue
            if seed is not None:   # every round (train.py): a sim that died since it was checked is dropped here
                why = self._set_seed(i, seed + i)
                if why:
                    self._drop(i, why)
                    continue
            c.parts.clear()
            futures[i] = c.reset_client.call_async(Trigger.Request())
        for i, fut in futures.items():   # sent to all first: the sims reset in parallel
            c = self.clients[i]
            result = _answer(c.reset_client, fut, self.step_timeout_s)
            if result is None:   # a lost response (see call_service) or a dead sim: once more, then drop it
                self.node.get_logger().warning(f"sim /{c.ns}: no answer to reset within "
                                               f"{self.step_timeout_s:.1f} s; resetting it again")
                result = call_service(c.reset_client, Trigger.Request(), self.step_timeout_s, attempts=1)
            if result is None or not result.success:
                self._drop(i, "reset service did not answer")
                continue
            self.stamps[i] = json.loads(result.message)["stamp_ns"]
            if c.dropped_at_version is not None:
                c.dropped_at_version = None
                self.readmissions += 1
                self.node.get_logger().info(f"sim /{c.ns} re-admitted")
        self._gather(lambda i: (self.stamps[i], self.clients[i].complete(int(self.stamps[i]))))
        self.steps = 0
        obs = self._batch()
        return obs, {"dropped": self.dropped.copy()}

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float32)
        commands = []   # all built first, then sent back to back: the sims start stepping closer together
        for i, c in enumerate(self.clients):
            if self.dropped[i]:
                continue
            linear, width = action_to_command(actions[i], self.motion)
            stamp = stamp_from_ns(int(self.stamps[i]))   # the observation these commands answer
            commands += [(c.pub_gripper, gripper_command(width, stamp)),
                         (c.pub_twist, twist_stamped(linear, stamp, ri.BASE_FRAME))]
        for pub, msg in commands:
            pub.publish(msg)
        prev = self.stamps.copy()
        self._gather(lambda i: self.clients[i].newer_complete(int(prev[i])) or (None, None))
        self.steps += 1
        obs = self._batch()
        # a dropped sim's row repeats a placeholder observation: reward -1, no success (it is discarded anyway)
        priv = [o["_priv"] if o is not None and not d else {"reward": [-1.0], "is_success": [0.0]}
                for o, d in zip(self.last_obs, self.dropped)]
        reward = np.array([p["reward"][0] for p in priv], dtype=np.float64)
        success = np.array([p["is_success"][0] for p in priv], dtype=np.float64)
        truncated = np.full(self.num_envs, self.steps >= self.T)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return obs, reward, terminated, truncated, {"is_success": success, "dropped": self.dropped.copy()}

    def close(self) -> None:
        self.obs_loop.destroy()   # the per-step subscriptions; the rest belongs to the owner's node

    # ------------------------------------------------------------------ internals
    def _set_parameter(self, i: int, prm: Parameter, what: str) -> str | None:
        """Sets one parameter of sim i; returns why it could not (the sim is gone), raises SimIncompatible
        with the sim's reason if it refused the value."""
        c = self.clients[i]
        if c.param_client is None or c.param_client_version != c.info_version:
            if c.param_client is not None:
                self.node.destroy_client(c.param_client)
            c.param_client = self.node.create_client(SetParameters, f"{c.info['node']}/set_parameters")
            c.param_client_version = c.info_version
        if not c.param_client.wait_for_service(self.step_timeout_s):
            return f"parameter service of {c.info['node']} not available"
        request = SetParameters.Request(parameters=[prm.to_parameter_msg()])
        result = call_service(c.param_client, request, self.step_timeout_s, attempts=3, on_retry=lambda n:
                              self.node.get_logger().warning(f"sim /{c.ns}: setting {what}, no answer; again"))
        if result is None:
            return f"setting {what} timed out"
        if not result.results[0].successful:
            raise SimIncompatible(f"sim /{c.ns}: {what} refused: {result.results[0].reason}")
        return None

    def _set_seed(self, i: int, seed: int) -> str | None:
        return self._set_parameter(i, Parameter("seed", Parameter.Type.INTEGER, int(seed)), f"seed {seed}")

    def _gather(self, poll) -> None:
        """Wait until every live sim has a complete observation (poll(i) -> (stamp, parts))."""
        deadline = time.monotonic() + self.step_timeout_s
        pending = {i for i in range(self.num_envs) if not self.dropped[i]}
        while pending:
            for i in list(pending):
                stamp, parts = poll(i)
                if parts is not None:
                    self.stamps[i] = stamp
                    self.last_obs[i] = self._obs_from(parts)
                    pending.discard(i)
            if not pending:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.obs_loop.spin_once(left)
        for i in pending:
            self._drop(i, f"no observation within {self.step_timeout_s:.1f} s")

    def _obs_from(self, parts: dict) -> dict:
        priv = parts["privileged"]
        obs = {k: priv[k] for k in VEC_KEYS}
        obs["_priv"] = priv
        if self.need_images:
            obs["rgb"], obs["depth"] = parts["rgb"], parts["depth"]
        for k in self.extra_keys:
            obs[k] = parts[k]
        return obs

    def _batch(self) -> dict:
        template = next((o for o in self.last_obs if o is not None), None)
        if template is None:
            raise RuntimeError("no sim has produced an observation")
        rows = [o if o is not None else template for o in self.last_obs]
        return {k: np.stack([r[k] for r in rows]) for k in template if not k.startswith("_")}
