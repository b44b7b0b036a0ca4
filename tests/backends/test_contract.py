"""The backend contract suite and the Hypothesis model test, run on every built-in backend."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from nuvom.queue_backends.memory import MemoryJobQueue
from nuvom.queue_backends.sqlite import SQLiteJobQueue
from nuvom.result_backends.memory import MemoryResultBackend
from nuvom.result_backends.sqlite import SQLiteResultBackend
from nuvom.testing.contract import queue_contract_checks, result_contract_checks, run_checks
from nuvom.testing.stateful import queue_state_machine

_files = itertools.count()


def sqlite_queue(tmp: Path):
    return lambda: SQLiteJobQueue(tmp / f"queue-{next(_files)}.db", lease_secs=30)


def sqlite_results(tmp: Path):
    return lambda: SQLiteResultBackend(tmp / f"results-{next(_files)}.db")


QUEUES = {"memory": lambda tmp: MemoryJobQueue, "sqlite": sqlite_queue}
RESULTS = {"memory": lambda tmp: MemoryResultBackend, "sqlite": sqlite_results}


@pytest.mark.parametrize("backend", QUEUES)
@pytest.mark.parametrize("check", queue_contract_checks(), ids=lambda c: c.name)
def test_queue_contract(backend, check, tmp_path):
    check.run(QUEUES[backend](tmp_path))


@pytest.mark.parametrize("backend", RESULTS)
@pytest.mark.parametrize("check", result_contract_checks(), ids=lambda c: c.name)
def test_result_contract(backend, check, tmp_path):
    check.run(RESULTS[backend](tmp_path))


@pytest.mark.parametrize("backend", QUEUES)
def test_queue_matches_the_model(backend, tmp_path):
    machine = queue_state_machine(QUEUES[backend](tmp_path))
    machine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    machine.TestCase().runTest()


def test_run_checks_reports_a_broken_backend_without_raising():
    class LosesJobs(MemoryJobQueue):
        def enqueue_many(self, jobs):
            jobs = list(jobs)
            super().enqueue_many(jobs[:-1] if len(jobs) > 1 else jobs)

    results = {r.name: r for r in run_checks(queue_contract_checks(), LosesJobs)}
    assert not results["enqueue_many"].passed
    assert "lost or duplicated" in results["enqueue_many"].error
    assert results["round trip"].passed
