"""The Job value: msgpack-safe round trip, the carriability check, and the backend adapters."""

import datetime
import math

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nuvom.job import Job, JobStatus, TimeoutPolicy, UnsafeValueError
from nuvom.queue_backends.base import BaseJobQueue, call_dequeue, call_pop_batch

carriable = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(args=st.lists(carriable, max_size=4), kwargs=st.dictionaries(st.text(), carriable, max_size=4))
def test_to_dict_survives_msgpack_and_rebuilds_an_equal_job(args, kwargs):
    job = Job("task", args=args, kwargs=kwargs, max_retries=2, retries_left=1, timeout_secs=1.5)
    job.check_carriable()
    wire = msgpack.unpackb(msgpack.packb(job.to_dict(), use_bin_type=True), raw=False, strict_map_key=False)
    assert Job.from_dict(wire) == job


def test_status_and_policy_are_enums_after_a_round_trip():
    job = Job.from_dict(Job("t", status=JobStatus.RUNNING, timeout_policy="retry").to_dict())
    assert job.status is JobStatus.RUNNING and job.status == "RUNNING"
    assert job.timeout_policy is TimeoutPolicy.RETRY


@pytest.mark.parametrize(
    "value, type_name",
    [(object(), "object"), ({1, 2}, "set"), (datetime.date(2020, 1, 1), "date"), (2**70, "64 bits")],
)
def test_an_argument_that_cannot_travel_names_the_task_and_the_type(value, type_name):
    with pytest.raises(UnsafeValueError) as caught:
        Job("resize_image", args=[1, value]).check_carriable()
    message = str(caught.value)
    assert "resize_image" in message and type_name in message and "args[1]" in message


def test_non_string_dict_keys_are_refused_with_the_key():
    with pytest.raises(UnsafeValueError, match="dict key 3"):
        Job("t", kwargs={"opts": {3: "x"}}).check_carriable()


def test_from_dict_refuses_something_that_is_not_a_job():
    with pytest.raises(ValueError, match="not a job"):
        Job.from_dict(["func", 1])


def test_is_due_follows_next_retry_at():
    assert Job("t").is_due()
    assert not Job("t", next_retry_at=math.inf).is_due()
    assert Job("t", next_retry_at=10.0).is_due(now=10.0)


class DocsStyleQueue(BaseJobQueue):
    """A backend written exactly as Nuvom's plugin docs show it."""

    def __init__(self):
        self.jobs = []

    def enqueue(self, job):
        self.jobs.append(job)

    def dequeue(self, timeout=None):
        return self.jobs.pop(0) if self.jobs else None

    def pop_batch(self, n):
        taken, self.jobs = self.jobs[:n], self.jobs[n:]
        return taken

    def qsize(self):
        return len(self.jobs)

    def clear(self):
        count, self.jobs = len(self.jobs), []
        return count


class NoTimeoutDequeueQueue(DocsStyleQueue):
    def dequeue(self):
        return self.jobs.pop(0) if self.jobs else None


def test_adapters_call_docs_style_backends_and_default_ack_nack_keep_jobs():
    queue = DocsStyleQueue()
    queue.enqueue_many([Job("t", id=str(i)) for i in range(3)])
    assert [job.id for job in call_pop_batch(queue, 2, 0.1)] == ["0", "1"]
    assert call_dequeue(queue, 0.1).id == "2"
    queue.ack([Job("t")])
    queue.nack([Job("t", id="back")])
    assert queue.qsize() == 1 and call_dequeue(NoTimeoutDequeueQueue(), 0.1) is None
