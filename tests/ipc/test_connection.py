"""Connection against a real peer process: routing, errors, timeouts, death, garbage, pipelining."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

import pytest

from nuvom.ipc import CallTimeout, ChannelClosed, Connection, EncodeError, ProtocolViolation, RemoteError
from nuvom.ipc.limits import Limits
from nuvom.job import Job

from tests.conftest import wait_until
from tests.ipc.conftest import PEER


def test_many_threads_times_many_calls_get_their_own_answers(peer):
    connection, _ = peer
    mismatches = []

    def caller(thread_index):
        for call_index in range(150):
            value = [thread_index, call_index, "x" * (call_index % 7)]
            delay = 0.001 if call_index % 10 == 0 else 0
            got = connection.call("echo_after", value, delay, timeout=10)
            if got != value:
                mismatches.append((value, got))

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert mismatches == []


def test_jobs_travel_both_ways(peer):
    connection, _ = peer
    job = Job("resize", args=[1, b"\x00"], kwargs={"q": 0.5}, retries_left=2)
    assert connection.call("echo", job, timeout=5) == job


def test_killing_the_peer_fails_every_pending_call_at_once(peer):
    connection, process = peer
    pending = [connection.call_async("hang") for _ in range(10)]
    wait_until(lambda: connection.call("notes", timeout=5).count("hanging") == 10, 5, "the calls never reached the peer")
    os.kill(process.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    for call in pending:
        with pytest.raises(ChannelClosed, match="closed the connection"):
            call.result(timeout=5)
    assert time.monotonic() - killed_at < 0.1, "pending calls did not fail at once"
    started = time.monotonic()
    with pytest.raises(ChannelClosed):
        connection.call("echo", 1, timeout=5)
    assert time.monotonic() - started < 0.01, "a call on a dead channel did not fail immediately"


def test_a_raising_handler_is_a_remote_error_and_the_channel_stays_usable(peer):
    connection, _ = peer
    with pytest.raises(RemoteError) as caught:
        connection.call("fail", "bad input", timeout=5)
    error = caught.value
    assert (error.method, error.remote_type, error.remote_message) == ("fail", "ValueError", "bad input")
    assert "Traceback" in error.remote_traceback and "peer.py" in error.remote_traceback
    assert "call 'fail' failed in peer process: ValueError: bad input" in str(error)
    assert connection.call("echo", "still here", timeout=5) == "still here"


def test_a_hanging_handler_times_out_only_its_own_caller(peer):
    connection, _ = peer
    hanging = connection.call_async("hang")
    started = time.monotonic()
    assert [connection.call("echo", i, timeout=5) for i in range(20)] == list(range(20))
    with pytest.raises(CallTimeout, match="call 'hang' to peer process got no response within 0.3 s"):
        hanging.result(timeout=0.3)
    assert time.monotonic() - started < 2
    assert connection.call("echo", "after", timeout=5) == "after"


def test_answers_held_back_behind_a_hanging_handler_are_still_sent(peer):
    """Queued calls' answers go out together; one stuck behind a hanging call must not stay back."""
    connection, _ = peer
    answered, hanging_last = connection.call_many_async([("echo", ["answered"]), ("hang", [])])
    assert answered.result(timeout=2) == "answered"  # held back for the hanging call, the last queued
    assert not hanging_last.done()
    before, hanging, after = connection.call_many_async([("echo", ["before"]), ("hang", []), ("echo", ["after"])])
    assert before.result(timeout=2) == "before"
    assert after.result(timeout=2) == "after"
    assert not hanging.done()


def test_a_burst_of_quick_calls_does_not_start_a_thread_per_call(peer):
    connection, _ = peer
    threads_before = connection.call("threads", timeout=5)
    for _ in range(5):
        assert connection.call_many([("echo", [index]) for index in range(200)], timeout=10) == list(range(200))
    assert connection.call("threads", timeout=5) <= threads_before + 2


def test_the_peer_can_call_back_during_a_call(peer):
    connection, _ = peer
    connection.register("double", lambda value: value * 2)
    assert connection.call("call_back", "double", 21, timeout=5) == ["peer saw", 42]


def test_a_caller_waiting_behind_another_reader_is_answered_when_that_reader_leaves(peer):
    """The first waiting caller reads the socket; one that waits behind it must not be stranded."""
    connection, _ = peer
    outcome = {}

    def slow_caller():
        outcome["slow"] = connection.call("echo_after", "slow", 0.6, timeout=5)
        outcome["slow at"] = time.monotonic()

    started = time.monotonic()
    reading = connection.call_async("echo_after", "fast", 0.2)
    thread = threading.Thread(target=slow_caller)
    thread.start()
    assert reading.result(timeout=5) == "fast"  # this caller reads; it leaves while slow_caller still waits
    thread.join(10)
    assert outcome.get("slow") == "slow"
    assert outcome["slow at"] - started < 2, "the waiting caller was answered only by its own timeout"


def test_a_caller_waiting_for_a_reader_takes_over_when_the_reader_leaves(processes):
    """With no background worker to fall back on (never started), only the reader that
    leaves, promoting the caller behind it, can get that caller its answer."""
    ours, theirs = socket.socketpair()
    processes.start([sys.executable, PEER, str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    connection = Connection(ours, name="peer process")  # not started: callers read for themselves
    results = {}

    def call(value, seconds):
        try:
            results[value] = connection.call("echo_after", value, seconds, timeout=3)
        except CallTimeout as error:
            results[value] = error

    try:
        reader = threading.Thread(target=call, args=("reader", 0.3))
        reader.start()
        wait_until(connection._read_token.locked, 5, "the first caller did not start reading")
        waiter = threading.Thread(target=call, args=("waiter", 0.6))
        waiter.start()
        reader.join(5)
        waiter.join(5)
        assert results == {"reader": "reader", "waiter": "waiter"}
    finally:
        connection.close()


def test_the_peer_is_heard_while_no_caller_is_reading(peer):
    """After callers were active, the background reader takes reading back for the peer's own messages."""
    connection, _ = peer
    heard = []
    connection.register("tell", heard.append)
    for index in range(50):
        connection.call("echo", index, timeout=5)
    connection.call("notify_later", "tell", "unasked", 0.05, timeout=5)
    wait_until(lambda: heard == ["unasked"], 5, "a message from the peer between our calls was never read")


def test_the_peer_dying_while_the_channel_is_idle_closes_it_at_once(peer):
    connection, process = peer
    for index in range(50):
        connection.call("echo", index, timeout=5)
    os.kill(process.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert connection.wait_closed(5), "a dead idle peer was never noticed"
    assert time.monotonic() - killed_at < 0.1
    assert "closed the connection" in connection.close_reason


def test_an_idle_connection_burns_no_cpu(peer):
    """Reads poll briefly before sleeping while messages come fast; an idle channel must not poll."""
    connection, process = peer
    for index in range(300):
        connection.call("echo", index, timeout=5)
    clock_ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(pid):
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / clock_ticks

    before, ours_before = cpu_seconds(process.pid), time.process_time()
    connection.wait_closed(1.0)  # the measured window: a second in which neither side has anything to do
    assert cpu_seconds(process.pid) - before < 0.1, "the idle peer kept polling"
    assert time.process_time() - ours_before < 0.1, "this idle side kept polling"


def test_an_unknown_method_is_a_remote_error(peer):
    connection, _ = peer
    with pytest.raises(RemoteError, match="MethodNotFound: no method 'nope' is served here"):
        connection.call("nope", timeout=5)


def test_notifications_arrive_in_order(peer):
    connection, _ = peer
    for index in range(5):
        connection.notify("note", index)
    wait_until(lambda: connection.call("notes", timeout=5) == [0, 1, 2, 3, 4], 5, "notifications were lost")


def test_a_value_that_cannot_be_sent_fails_at_the_sender_only(peer):
    connection, _ = peer
    with pytest.raises(EncodeError, match=r"cannot send call 'echo'.*builtins\.object"):
        connection.call("echo", object(), timeout=5)
    assert connection.call("echo", 1, timeout=5) == 1


def test_call_many_pipelines_and_raises_the_first_error_after_all(peer):
    connection, _ = peer
    assert connection.call_many([("echo", [i]) for i in range(100)], timeout=5) == list(range(100))
    with pytest.raises(RemoteError, match="ValueError: second"):
        connection.call_many([("echo", [1]), ("fail", ["second"]), ("echo", [3])], timeout=5)
    assert connection.call("echo", 4, timeout=5) == 4


def test_garbage_from_the_peer_is_a_protocol_violation_that_fails_pending_calls(peer):
    connection, _ = peer
    waiting = connection.call_async("hang")
    with pytest.raises(ProtocolViolation, match="protocol violation by peer process: malformed msgpack"):
        connection.call("write_garbage", timeout=5)
    with pytest.raises(ProtocolViolation):
        waiting.result(timeout=1)
    assert connection.closed and "protocol violation" in connection.close_reason


def test_an_answer_to_a_call_never_made_is_a_protocol_violation(peer):
    connection, _ = peer
    with pytest.raises(ProtocolViolation, match="response to msgid 12345678, which was never sent"):
        connection.call("answer_unknown_msgid", timeout=5)


def test_a_peer_that_floods_us_with_calls_our_handlers_cannot_keep_up_with_is_cut_off(processes):
    ours, theirs = socket.socketpair()
    processes.start([sys.executable, PEER, str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    connection = Connection(ours, name="flooding peer", limits=Limits(max_queued_calls=20))
    release = threading.Event()
    connection.register("stuck", lambda index: release.wait(10))
    connection.start()
    try:
        connection.notify("notify_many", "stuck", 500)
        assert connection.wait_closed(10), "the queue of the peer's calls grew without bound"
        assert "protocol violation by flooding peer: more than 20 of its calls are waiting" in connection.close_reason
    finally:
        release.set()
        connection.close()


def test_a_late_answer_after_a_timeout_is_not_a_violation(peer):
    connection, _ = peer
    with pytest.raises(CallTimeout):
        connection.call("echo_after", "late", 0.3, timeout=0.05)
    wait_until(lambda: not connection._abandoned, 5, "the late answer never arrived")
    assert not connection.closed
    assert connection.call("echo", "fine", timeout=5) == "fine"


def test_a_peer_that_stops_reading_cannot_block_a_sender_forever():
    ours, theirs = socket.socketpair()
    try:
        connection = Connection(ours, name="stalled reader", send_timeout=0.3).start()
        started = time.monotonic()
        with pytest.raises(ChannelClosed, match="stalled reader stopped reading: a send blocked for 0.3 s"):
            for _ in range(100):
                connection.call_async("echo", b"x" * 1024 * 1024)
        assert time.monotonic() - started < 3
    finally:
        theirs.close()


def test_a_connection_over_two_pipes(processes):
    down_read, down_write = os.pipe()
    up_read, up_write = os.pipe()
    server = Connection.from_fds(down_read, up_write, name="client")
    server.register("echo", lambda value: value)
    server.start()
    client = Connection.from_fds(up_read, down_write, name="server").start()
    try:
        assert client.call_many([("echo", [i]) for i in range(50)], timeout=5) == list(range(50))
    finally:
        client.close()
        server.close()
    assert client.wait_closed(1) and server.wait_closed(1)


def test_close_is_reported_once_to_callbacks(peer):
    connection, _ = peer
    reasons = []
    connection.on_close(reasons.append)
    connection.close("done here")
    connection.close("twice")
    connection.on_close(reasons.append)
    assert reasons == ["done here", "done here"]


def test_a_result_the_peer_cannot_encode_is_a_remote_error_not_a_broken_channel(peer):
    connection, _ = peer
    with pytest.raises(RemoteError, match=r"EncodeError: the result of 'returns_object'.*builtins\.object"):
        connection.call("returns_object", timeout=5)
    assert connection.call("echo", "still usable", timeout=5) == "still usable"
