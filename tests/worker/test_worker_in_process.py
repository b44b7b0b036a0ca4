"""The Worker object in this process: retries, timeouts, failures, a failing backend."""

from __future__ import annotations

import time

import pytest

from nuvom.config import Settings
from nuvom.job import Job
from nuvom.queue_backends.memory import MemoryJobQueue
from nuvom.result_backends.memory import MemoryResultBackend
from nuvom.worker import Worker

from tests.conftest import wait_until
from tests.worker import sample_tasks


@pytest.fixture
def running_worker():
    workers = []

    def start(queue=None, **settings):
        queue = queue or MemoryJobQueue()
        results = MemoryResultBackend()
        worker = Worker(
            Settings(max_workers=2, batch_size=4, shutdown_grace_secs=2, **settings),
            queue=queue, results=results, task_modules=["tests.worker.sample_tasks"],
        )
        worker.start()
        workers.append(worker)
        return worker, queue, results

    yield start
    for worker in workers:
        worker.request_stop()
        assert worker.join(10), "the worker did not stop"


def outcome(results, job, timeout=5):
    return wait_until(lambda: results.get_full(job.id), timeout, f"no outcome for {job.func_name}")


def test_a_failing_task_is_retried_after_its_delay_then_succeeds(running_worker, tmp_path):
    worker, queue, results = running_worker()
    log = tmp_path / "log"
    job = sample_tasks.fails_twice.make_job([str(log)])
    queue.enqueue(job)
    record = outcome(results, job)
    assert record["status"] == "SUCCESS" and record["result"] == 3 and record["retries_left"] == 0
    times = [float(line.split()[1]) for line in log.read_text().split("\n") if line]
    assert all(b - a >= 0.25 for a, b in zip(times, times[1:])), f"retry delay not honoured: {times}"
    assert worker.stats["retried"] == 2


def test_an_error_is_stored_with_its_traceback_and_the_worker_goes_on(running_worker, tmp_path):
    worker, queue, results = running_worker()
    failing = Job("fails_twice", args=[str(tmp_path / "log")])  # max retries 0 on this job
    good = sample_tasks.logged.make_job([str(tmp_path / "log2"), 21])
    queue.enqueue_many([failing, good])
    record = outcome(results, failing)
    assert record["status"] == "FAILED" and record["error"]["type"] == "ValueError"
    assert "Traceback" in record["error"]["traceback"] and "sample_tasks.py" in record["error"]["traceback"]
    assert outcome(results, good)["result"] == 42


def test_a_timed_out_job_fails_at_once_and_its_thread_is_stopped(running_worker):
    worker, queue, results = running_worker()
    job = sample_tasks.spins_forever.make_job()
    started = time.monotonic()
    queue.enqueue(job)
    record = outcome(results, job)
    assert time.monotonic() - started < 2
    assert record["status"] == "FAILED" and "timed out after 0.3 s" in record["error"]["message"]
    follow_up = sample_tasks.returns_none.make_job()
    queue.enqueue_many([follow_up] * 1 + [sample_tasks.returns_none.make_job() for _ in range(3)])
    assert outcome(results, follow_up)["status"] == "SUCCESS", "the pool lost capacity after a timeout"


def test_timeout_policy_retry_retries_then_fails(running_worker):
    worker, queue, results = running_worker()
    job = sample_tasks.spins_then_retries.make_job()
    queue.enqueue(job)
    record = outcome(results, job)
    assert record["status"] == "FAILED" and record["error"]["type"] == "TimeoutError"
    assert worker.stats["retried"] == 1


def test_a_result_that_cannot_be_stored_is_a_clear_failure(running_worker):
    worker, queue, results = running_worker()
    job = sample_tasks.returns_object.make_job()
    queue.enqueue(job)
    message = outcome(results, job)["error"]["message"]
    assert "task 'returns_object': result" in message and "builtins.object" in message


def test_a_task_returning_none_resolves(running_worker):
    worker, queue, results = running_worker()
    job = sample_tasks.returns_none.make_job()
    queue.enqueue(job)
    record = outcome(results, job)
    assert record["status"] == "SUCCESS" and record["result"] is None


def test_an_unknown_task_fails_with_the_imported_modules(running_worker):
    worker, queue, results = running_worker()
    job = Job("nobody_has_this")
    queue.enqueue(job)
    message = outcome(results, job)["error"]["message"]
    assert "no task named 'nobody_has_this'" in message and "tests.worker.sample_tasks" in message


class FlakyQueue(MemoryJobQueue):
    """A backend that raises on every pop_batch while `broken` is set."""

    def __init__(self):
        super().__init__()
        self.broken = True
        self.failures = 0

    def pop_batch(self, batch_size=1, timeout=1):
        if self.broken:
            self.failures += 1
            raise ConnectionError("backend is down")
        return super().pop_batch(batch_size, timeout)


def test_a_failing_queue_backend_is_survived_and_work_resumes(running_worker, tmp_path, caplog):
    queue = FlakyQueue()
    worker, queue, results = running_worker(queue)
    job = sample_tasks.logged.make_job([str(tmp_path / "log"), 1])
    queue.enqueue(job)
    wait_until(lambda: queue.failures >= 3, 5, "the dispatcher stopped calling the backend")
    assert "backend is down" in caplog.text and "retrying in" in caplog.text
    queue.broken = False
    assert outcome(results, job, timeout=10)["result"] == 2


class FlakyResults(MemoryResultBackend):
    def __init__(self):
        super().__init__()
        self.broken = True

    def store_many(self, records):
        if self.broken:
            raise ConnectionError("results are down")
        super().store_many(records)


def test_outcomes_are_kept_until_the_result_backend_works_again(tmp_path):
    queue, results = MemoryJobQueue(), FlakyResults()
    worker = Worker(Settings(max_workers=2), queue=queue, results=results, task_modules=["tests.worker.sample_tasks"])
    worker.start()
    try:
        jobs = [sample_tasks.returns_none.make_job() for _ in range(5)]
        queue.enqueue_many(jobs)
        wait_until(lambda: worker.stats["in_flight"] == 5 and queue.qsize() == 0, 5, "jobs were not taken")
        assert results.list_jobs() == []
        results.broken = False
        wait_until(lambda: len(results.list_jobs()) == 5, 5, "outcomes were lost while the backend was down")
    finally:
        worker.request_stop()
        assert worker.join(10)


def test_the_worker_claims_no_more_than_its_prefetch_allows(tmp_path):
    """max_workers + prefetch_batches x batch_size jobs leave the queue; the rest wait for room."""
    queue = MemoryJobQueue()
    queue.enqueue_many([Job("logged", args=[str(tmp_path / "log"), i, 30])
                        for i in range(100)])
    worker = Worker(
        Settings(max_workers=1, batch_size=5, prefetch_batches=2, shutdown_grace_secs=0.5),
        queue=queue, results=MemoryResultBackend(), task_modules=["tests.worker.sample_tasks"],
    )
    worker.start()
    try:
        wait_until(lambda: queue.qsize() <= 100 - 11, 5, "the worker did not claim its jobs")
        assert queue.qsize() == 100 - 11 and len(worker._claimed) == 11
    finally:
        worker.request_stop()
        assert worker.join(10), "the worker did not stop"
    assert queue.qsize() == 100, "claimed jobs (and the one cut off after the grace period) were not handed back"
