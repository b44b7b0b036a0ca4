"""A Hypothesis state machine that checks a queue backend against a simple model.

`queue_state_machine(factory)` returns a `RuleBasedStateMachine` subclass; turn it
into a test with `.TestCase`. The model is the set of waiting job ids and the
set of taken-but-unacknowledged ones: whatever the order of operations, every
enqueued job is either waiting, taken, or acked exactly once, and nothing appears
that was not enqueued.
"""

from __future__ import annotations

from typing import Any, Callable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from nuvom.job import Job
from nuvom.queue_backends.base import call_pop_batch


def queue_state_machine(factory: Callable[[], Any]) -> type[RuleBasedStateMachine]:
    class QueueMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.queue = factory()
            self.waiting: set[str] = set()
            self.taken: dict[str, Job] = {}
            self.counter = 0

        def _new_jobs(self, count: int) -> list[Job]:
            jobs = [Job("model_task", args=[self.counter + i]) for i in range(count)]
            self.counter += count
            return jobs

        @rule()
        def enqueue(self) -> None:
            (job,) = self._new_jobs(1)
            self.queue.enqueue(job)
            self.waiting.add(job.id)

        @rule(count=st.integers(0, 5))
        def enqueue_many(self, count: int) -> None:
            jobs = self._new_jobs(count)
            self.queue.enqueue_many(jobs)
            self.waiting.update(job.id for job in jobs)

        @rule(size=st.integers(1, 6))
        def pop_batch(self, size: int) -> None:
            batch = call_pop_batch(self.queue, size, 0)
            ids = [job.id for job in batch]
            assert len(ids) == len(set(ids)), f"pop_batch returned a job twice: {ids}"
            assert len(batch) == min(size, len(self.waiting)), (
                f"pop_batch({size}) returned {len(batch)} jobs with {len(self.waiting)} waiting"
            )
            for job in batch:
                assert job.id in self.waiting, f"pop_batch returned {job.id}, which was not waiting"
                self.waiting.discard(job.id)
                self.taken[job.id] = job

        @precondition(lambda self: self.taken)
        @rule(data=st.data())
        def ack(self, data: st.DataObject) -> None:
            chosen = data.draw(st.lists(st.sampled_from(sorted(self.taken)), unique=True, min_size=1))
            self.queue.ack([self.taken.pop(job_id) for job_id in chosen])

        @precondition(lambda self: self.taken)
        @rule(data=st.data())
        def nack(self, data: st.DataObject) -> None:
            chosen = data.draw(st.lists(st.sampled_from(sorted(self.taken)), unique=True, min_size=1))
            self.queue.nack([self.taken.pop(job_id) for job_id in chosen])
            self.waiting.update(chosen)

        @rule()
        def clear(self) -> None:
            removed = self.queue.clear()
            assert removed == len(self.waiting), f"clear() returned {removed}, {len(self.waiting)} were waiting"
            self.waiting.clear()

        @invariant()
        def qsize_matches(self) -> None:
            assert self.queue.qsize() == len(self.waiting), (
                f"qsize() is {self.queue.qsize()}, the model has {len(self.waiting)} waiting"
            )

        def teardown(self) -> None:
            close = getattr(self.queue, "close", None)
            if callable(close):
                close()

    return QueueMachine
