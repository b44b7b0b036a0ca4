"""The backend contract suite: checks any queue or result backend must pass.

It is plain Python, not tied to pytest, so `nuvom plugin test` can run it against a
plugin's backend through the isolation layer, and the test suite runs it against
the built-ins. A check receives a factory that returns a fresh, empty backend and
raises `AssertionError` with a readable message when the backend breaks the
contract. Queues are called through `call_pop_batch` / `call_dequeue`, so a backend
written as the docs show it (`pop_batch(self, n)`, `dequeue(self, timeout=None)`)
passes too.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from nuvom.job import Job, JobStatus
from nuvom.queue_backends.base import BaseJobQueue, call_dequeue, call_pop_batch
from nuvom.result_backends.base import BaseResultBackend

Factory = Callable[[], Any]
EMPTY_WAIT_SECS = 0.2
WAIT_MARGIN_SECS = 1.0


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    run: Callable[[Factory], None]


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    duration_s: float
    error: str = ""


def run_checks(checks: list[Check], factory: Factory) -> list[CheckResult]:
    """Run every check with a fresh backend from `factory`; never raises for a failing check."""
    results = []
    for check in checks:
        started = time.perf_counter()
        try:
            check.run(factory)
        except Exception as error:  # the backend under test may raise anything
            message = str(error) if isinstance(error, AssertionError) else f"{type(error).__name__}: {error}"
            results.append(CheckResult(check.name, False, time.perf_counter() - started, message))
        else:
            results.append(CheckResult(check.name, True, time.perf_counter() - started))
    return results


def sample_job(index: int = 0, **fields: Any) -> Job:
    return Job(func_name=f"task_{index}", args=[index], kwargs={"index": index}, **fields)


def _drain(queue: BaseJobQueue, limit: int = 10_000) -> list[Job]:
    taken: list[Job] = []
    while len(taken) < limit:
        batch = call_pop_batch(queue, 100, 0)
        if not batch:
            return taken
        queue.ack(batch)
        taken.extend(batch)
    return taken


# queue checks ---------------------------------------------------------------------------


def _round_trip_every_field(factory: Factory) -> None:
    queue = factory()
    job = Job(
        func_name="resize",
        args=[1, "two", 3.5, None, True, b"\x00\xff", [1, [2]], {"k": "v"}],
        kwargs={"unicode": "żółw 🐢", "nested": {"list": [1, 2, {"deep": b"bytes"}]}},
        max_retries=3, retries_left=2, timeout_secs=1.5, retry_delay_secs=0.5,
        timeout_policy="retry", store_result=False, priority=4, attempts=1,
    )
    queue.enqueue(job)
    taken = call_pop_batch(queue, 1, 1)
    assert len(taken) == 1, f"pop_batch(1) returned {len(taken)} jobs right after an enqueue"
    got = taken[0]
    queue.ack(taken)
    assert got.to_dict() == job.to_dict(), f"job changed in the queue:\n sent {job.to_dict()}\n got  {got.to_dict()}"


def _fifo(factory: Factory) -> None:
    queue = factory()
    jobs = [sample_job(i) for i in range(10)]
    for job in jobs:
        queue.enqueue(job)
    taken = _drain(queue)
    assert [j.id for j in taken] == [j.id for j in jobs], "jobs did not come out in the order they went in"


def _qsize_counts_waiting_jobs(factory: Factory) -> None:
    queue = factory()
    assert queue.qsize() == 0, f"a new queue has qsize() {queue.qsize()}, expected 0"
    for i in range(3):
        queue.enqueue(sample_job(i))
    assert queue.qsize() == 3, f"qsize() is {queue.qsize()} after 3 enqueues"
    batch = call_pop_batch(queue, 2, 1)
    queue.ack(batch)
    assert queue.qsize() == 1, f"qsize() is {queue.qsize()} after taking 2 of 3 jobs"


def _clear_returns_count(factory: Factory) -> None:
    queue = factory()
    for i in range(4):
        queue.enqueue(sample_job(i))
    removed = queue.clear()
    assert removed == 4, f"clear() returned {removed!r}, expected 4"
    assert queue.qsize() == 0 and call_pop_batch(queue, 10, 0) == [], "jobs are still there after clear()"


def _pop_batch_respects_size(factory: Factory) -> None:
    queue = factory()
    for i in range(7):
        queue.enqueue(sample_job(i))
    first = call_pop_batch(queue, 5, 1)
    assert len(first) == 5, f"pop_batch(5) returned {len(first)} jobs with 7 waiting"
    rest = call_pop_batch(queue, 5, 1)
    assert len(rest) == 2, f"pop_batch(5) returned {len(rest)} jobs with 2 waiting"
    queue.ack(first + rest)


def _empty_pop_returns_quickly(factory: Factory) -> None:
    queue = factory()
    started = time.monotonic()
    batch = call_pop_batch(queue, 3, EMPTY_WAIT_SECS)
    single = call_dequeue(queue, EMPTY_WAIT_SECS)
    waited = time.monotonic() - started
    assert batch == [] and single is None, f"an empty queue returned {batch!r} / {single!r}"
    assert waited < 2 * EMPTY_WAIT_SECS + WAIT_MARGIN_SECS, f"empty pops took {waited:.2f} s"


def _enqueue_many(factory: Factory) -> None:
    queue = factory()
    jobs = [sample_job(i) for i in range(25)]
    queue.enqueue_many(jobs)
    taken = _drain(queue)
    assert sorted(j.id for j in taken) == sorted(j.id for j in jobs), "enqueue_many lost or duplicated jobs"


def _nack_hands_jobs_back(factory: Factory) -> None:
    queue = factory()
    jobs = [sample_job(i) for i in range(3)]
    queue.enqueue_many(jobs)
    taken = call_pop_batch(queue, 3, 1)
    queue.nack(taken)
    again = _drain(queue)
    assert sorted(j.id for j in again) == sorted(j.id for j in jobs), "nack did not make the jobs available again"


def _ack_is_final(factory: Factory) -> None:
    queue = factory()
    queue.enqueue(sample_job(1))
    taken = call_pop_batch(queue, 1, 1)
    queue.ack(taken)
    queue.renew(taken)
    assert call_pop_batch(queue, 1, 0) == [] and queue.qsize() == 0, "an acked job came back"


def queue_contract_checks() -> list[Check]:
    """Every check a queue backend must pass."""
    return [
        Check("round trip", "every Job field survives enqueue -> pop_batch", _round_trip_every_field),
        Check("fifo", "jobs come out in the order they went in", _fifo),
        Check("qsize", "qsize() counts waiting jobs", _qsize_counts_waiting_jobs),
        Check("clear", "clear() removes every waiting job and returns the count", _clear_returns_count),
        Check("pop_batch size", "pop_batch(n) returns at most n jobs", _pop_batch_respects_size),
        Check("empty pop", "an empty queue returns nothing within the timeout", _empty_pop_returns_quickly),
        Check("enqueue_many", "a batch enqueue loses nothing", _enqueue_many),
        Check("nack", "nack() hands jobs back", _nack_hands_jobs_back),
        Check("ack", "an acked job never comes back", _ack_is_final),
    ]


# result checks --------------------------------------------------------------------------


def unique_id(label: str) -> str:
    """A job id no real job has, so the checks can run against a store already in use."""
    return f"nuvom-contract-{label}-{uuid.uuid4().hex[:12]}"


def _result_round_trip(factory: Factory) -> None:
    results: BaseResultBackend = factory()
    value = {"rows": [1, 2.5, "three", None, b"\x01"], "ok": True}
    job_id = unique_id("round-trip")
    results.set_result(job_id, "task_a", value, args=[1], kwargs={"k": 2}, attempts=1, created_at=1.0)
    assert results.get_result(job_id) == value, f"get_result returned {results.get_result(job_id)!r}"
    assert results.get_error(job_id) is None, "a successful job has an error"
    full = results.get_full(job_id)
    assert full and full["status"] == JobStatus.SUCCESS.value, f"get_full returned {full!r}"
    assert full["func_name"] == "task_a" and full["args"] == [1] and full["kwargs"] == {"k": 2}, full


def _result_none_is_a_result(factory: Factory) -> None:
    results: BaseResultBackend = factory()
    job_id = unique_id("none")
    results.set_result(job_id, "task_a", None)
    full = results.get_full(job_id)
    assert full is not None and full["status"] == JobStatus.SUCCESS.value, "a None result was not stored"


def _error_keeps_traceback(factory: Factory) -> None:
    results: BaseResultBackend = factory()
    try:
        raise ValueError("bad input 42")
    except ValueError as error:
        job_id = unique_id("error")
        results.set_error(job_id, "task_b", error, attempts=3)
    message = results.get_error(job_id)
    assert message == "ValueError: bad input 42", f"get_error returned {message!r}"
    full = results.get_full(job_id)
    assert full and full["status"] == JobStatus.FAILED.value, f"get_full returned {full!r}"
    assert "Traceback" in full["error"]["traceback"] and "bad input 42" in full["error"]["traceback"], (
        "the stored error has no traceback text"
    )


def _unknown_job(factory: Factory) -> None:
    results: BaseResultBackend = factory()
    missing = unique_id("missing")
    assert results.get_full(missing) is None and results.get_result(missing) is None
    assert results.get_error(missing) is None


def _list_jobs_newest_first(factory: Factory) -> None:
    results: BaseResultBackend = factory()
    ids = [unique_id(f"listed-{index}") for index in range(5)]
    future = time.time() + 10**6  # newer than anything already stored, so a used store passes too
    for index, job_id in enumerate(ids):
        results.set_result(job_id, "task", index, completed_at=future + index)
    listed = [r["job_id"] for r in results.list_jobs(3)]
    assert listed == ids[:1:-1], f"list_jobs(3) returned {listed}, expected {ids[:1:-1]}"
    everything = [r["job_id"] for r in results.list_jobs()]
    assert set(ids) <= set(everything), "list_jobs() without a limit misses stored jobs"


def _store_many(factory: Factory) -> None:
    from nuvom.result_backends.base import error_info, full_record

    results: BaseResultBackend = factory()
    good, bad = unique_id("many-ok"), unique_id("many-failed")
    results.store_many([
        full_record(good, "t", "SUCCESS", result=1),
        full_record(bad, "t", "FAILED", error=error_info(RuntimeError("no"))),
    ])
    assert results.get_result(good) == 1 and results.get_error(bad) == "RuntimeError: no"


def result_contract_checks() -> list[Check]:
    """Every check a result backend must pass."""
    return [
        Check("result round trip", "set_result -> get_result/get_full", _result_round_trip),
        Check("None result", "a task returning None has a stored SUCCESS", _result_none_is_a_result),
        Check("error traceback", "set_error keeps type, message and traceback", _error_keeps_traceback),
        Check("unknown job", "an unknown id reads as None", _unknown_job),
        Check("list_jobs", "list_jobs(n) is newest first", _list_jobs_newest_first),
        Check("store_many", "a batch of outcomes is stored", _store_many),
    ]
