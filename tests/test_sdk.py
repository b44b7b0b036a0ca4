"""nuvom.sdk against the stored outcome: waiting, status, failures, retry."""

import pytest

from nuvom.job import Job, JobStatus
from nuvom.queue import get_queue_backend
from nuvom.result_store import get_backend
from nuvom.sdk import JobFailedError, get_job_status, retry_job, wait_for_result


def test_wait_returns_the_stored_result_not_the_local_copy():
    job = Job("t")
    get_backend().set_result(job.id, "t", {"answer": 42})
    assert job.get(timeout=1) == {"answer": 42}
    assert get_job_status(job.id) is JobStatus.SUCCESS


def test_a_failed_job_raises_with_its_remote_traceback():
    try:
        raise ValueError("bad")
    except ValueError as error:
        get_backend().set_error("j1", "t", error)
    with pytest.raises(JobFailedError, match="job j1 \\(t\\) failed: ValueError: bad") as caught:
        wait_for_result("j1", timeout=1)
    assert "Traceback" in caught.value.remote_traceback


def test_waiting_for_an_unknown_job_times_out():
    with pytest.raises(TimeoutError, match="no stored outcome after 0.2 s"):
        wait_for_result("never", timeout=0.2)
    assert get_job_status("never") is None


def test_retry_job_enqueues_a_failed_job_again():
    get_backend().set_error("j2", "resize", "boom", args=[1], kwargs={"k": 2})
    job = retry_job("j2")
    assert job is not None and job.id != "j2"
    (queued,) = get_queue_backend().pop_batch(1, timeout=0)
    assert (queued.func_name, queued.args, queued.kwargs) == ("resize", [1], {"k": 2})
    get_backend().set_result("j3", "t", 1)
    assert retry_job("j3") is None
