"""TakeLoop: per-step topics taken by the caller's thread (no executor), and the sim node that uses it."""
from __future__ import annotations

import signal
import threading
import time

from ros_helpers import SimProcess, Spinning, call_trigger, wait_for  # noqa: I100 (skips the module without rclpy)

import pytest  # noqa: E402
import rclpy  # noqa: E402
from rclpy.qos import ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Float32MultiArray, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from aac_robot import ros_interface as ri  # noqa: E402
from aac_sim.config import ConfigError  # noqa: E402
from aac_sim.take_loop import TakeLoop  # noqa: E402


def test_messages_reach_the_callback_in_the_callers_thread_in_order_and_a_wait_is_bounded():
    with Spinning("take_loop_owner") as owner:
        loop = TakeLoop(owner)
        got, threads = [], set()

        def on_msg(msg):
            got.append(msg.data)
            threads.add(threading.get_ident())

        sub = loop.subscribe(String, "take_loop_test", on_msg)
        pub = owner.create_publisher(String, "take_loop_test", 10)
        # per-step topics are best effort (no heartbeat/acknack wake-ups) and still hear reliable publishers
        assert sub.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
        assert pub.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        wait_for(lambda: pub.get_subscription_count() > 0, what="discovery")

        t0 = time.monotonic()
        assert loop.spin_once(0.2) == 0           # nothing published: times out, takes nothing
        assert 0.15 < time.monotonic() - t0 < 2.0

        for i in range(5):
            pub.publish(String(data=str(i)))
        end = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < end:
            assert loop.spin_once(1.0) <= 1       # one message per subscription and call
        assert got == ["0", "1", "2", "3", "4"]
        assert threads == {threading.get_ident()}

        for i in range(3):
            pub.publish(String(data=f"x{i}"))
        wait_for(lambda: loop.take_all() >= 0 and len(got) == 8, what="take_all to drain all three")
        assert got[5:] == ["x0", "x1", "x2"]
        loop.destroy()


def test_reliability_is_a_choice_and_an_unknown_one_is_refused_before_any_node_exists():
    with Spinning("take_loop_qos") as owner:
        loop = TakeLoop(owner, reliability="reliable")
        sub = loop.subscribe(String, "take_loop_qos", lambda m: None)
        assert sub.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        loop.destroy()
        before = set(owner.get_node_names())
        with pytest.raises(ConfigError, match="step_reliability must be one of"):
            TakeLoop(owner, reliability="sometimes")
        assert set(owner.get_node_names()) <= before
        from aac_policy.ros_env import RosVectorEnv   # the trainer's observation subscriptions
        env = RosVectorEnv(owner, ["qos_sim"], {}, 50, image_keys=True, step_reliability="reliable")
        assert {sub.qos_profile.reliability for sub, _ in env.obs_loop.subscriptions} == {ReliabilityPolicy.RELIABLE}
        env.close()

    from aac_policy.trainer_node import TrainerNode   # the node parameter goes the same way, at start-up
    from rclpy.parameter import Parameter
    rclpy.init()
    try:
        with pytest.raises(ConfigError, match="step_reliability must be one of"):
            TrainerNode(parameter_overrides=[Parameter("step_reliability", Parameter.Type.STRING, "sometimes")])
    finally:
        rclpy.shutdown()


def test_private_node_keeps_the_namespace_and_gets_its_own_name_under_a_launch_style_name_remap():
    context = rclpy.Context()
    rclpy.init(args=["--ros-args", "-r", "__node:=launched", "-r", "__ns:=/sim3"], context=context)
    try:
        owner = rclpy.create_node("aac_sim_node", context=context)
        loop = TakeLoop(owner, "commands")
        assert owner.get_fully_qualified_name() == "/sim3/launched"
        assert loop.node.get_namespace() == "/sim3"
        assert loop.node.get_name().startswith("launched_commands")
        sub = loop.subscribe(Float32MultiArray, "aac/x", lambda m: None)
        assert sub.topic_name == "/sim3/aac/x"   # relative names resolve like the owner's
        loop.destroy()
        owner.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_sim_node_ends_cleanly_on_sigint_and_sigterm():
    """The sim takes commands in its main thread and serves reset from an executor thread: both
    stop on a signal, exit code 0 (launch's shutdown sends SIGINT, then SIGTERM)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        ns = f"sig{int(sig)}"   # one per signal: a stopped sim's service can linger in the graph
        with Spinning("take_loop_sig") as node, SimProcess(ns) as sim:
            reset = node.create_client(Trigger, f"/{ns}/{ri.RESET_SERVICE}")
            assert reset.wait_for_service(30)
            assert call_trigger(reset, what="reset").success   # answered by the executor thread: both run
            sim.proc.send_signal(sig)
            assert sim.proc.wait(10) == 0


def test_call_service_sends_again_when_an_answer_does_not_come_and_gives_up_after_the_attempts():
    from aac_policy.ros_env import call_service
    from aac_robot.node_main import ExecutorThread

    calls = []

    def on_trigger(request, response):   # the first answer comes too late (as if it were lost)
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(1.5)
        response.success, response.message = True, f"call {len(calls)}"
        return response

    with Spinning("call_service_client") as client:
        server = rclpy.create_node("call_service_server")
        with ExecutorThread(server):   # its own thread: the sleeping callback must not block the client's
            server.create_service(Trigger, "call_service_test", on_trigger)
            cli = client.create_client(Trigger, "call_service_test")
            assert cli.wait_for_service(10)
            retries = []
            result = call_service(cli, Trigger.Request(), 1.0, attempts=2, on_retry=retries.append)
            assert result is not None and result.message == "call 2" and retries == [1]
            time.sleep(0.3)   # the late first answer arrives and is dropped: nothing pending is left
            assert len(calls) == 2 and not cli._pending_requests

            nobody = client.create_client(Trigger, "call_service_nobody")
            t0 = time.monotonic()
            assert call_service(nobody, Trigger.Request(), 0.3, attempts=3) is None
            assert time.monotonic() - t0 >= 0.9 and not nobody._pending_requests
        server.destroy_node()
