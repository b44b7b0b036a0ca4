"""The worker: pulls jobs in batches, runs them on a fixed thread pool, records outcomes.

Threads and who owns what:

- dispatcher: `pop_batch` from the queue while fewer than `max_workers + prefetch_batches
  * batch_size` jobs are claimed (batches fetched ahead, so a queue that is a round trip
  away never leaves the executors idle); hands due jobs to the executors, holds early
  ones until due, renews the leases of everything claimed every `lease_secs / 3`.
- executors (`max_workers` threads): run one job at a time, turn what happened into
  an `Outcome` and hand it to the writer.
- writer (`OutcomeWriter`): stores outcomes in batches, enqueues retries, then acks.
- timeout monitor (`TimeoutMonitor`): settles overrunning jobs and interrupts them.

A stop (`request_stop`, SIGINT/SIGTERM in `nuvom runworker`) stops the dispatcher,
hands claimed-but-unstarted jobs back (`nack`), gives running jobs
`shutdown_grace_secs` to finish, hands back the ones that did not, writes every
outcome, and returns. A task that raises or a backend that fails never ends the
worker: the failure is recorded or logged, and the worker backs off and goes on.
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import logging
import queue as queue_module
import threading
import time
from typing import Sequence

from nuvom.config import Settings, get_settings
from nuvom.job import Job, JobStatus, TimeoutPolicy, UnsafeValueError, ensure_msgpack_safe
from nuvom.queue_backends.base import BaseJobQueue, call_pop_batch
from nuvom.result_backends.base import BaseResultBackend
from nuvom.task import TASKS
from nuvom.worker.outcomes import Outcome, OutcomeWriter, failure, success
from nuvom.worker.timeouts import JobInterrupted, RunningJob, TimeoutMonitor

log = logging.getLogger("nuvom.worker")

MAX_BACKOFF_SECS = 5.0
INTERRUPT_GRACE_SECS = 1.0


class TaskModuleError(ImportError):
    """A module given with --tasks could not be imported."""


def import_task_modules(modules: Sequence[str]) -> list[str]:
    """Import each module (which registers its @task functions); clear error on failure."""
    imported = []
    for name in modules:
        name = name.strip()
        if not name:
            continue
        try:
            importlib.import_module(name)
        except Exception as error:
            raise TaskModuleError(
                f"cannot import task module {name!r}: {type(error).__name__}: {error}"
            ) from error
        imported.append(name)
    return imported


class Worker:
    """A task worker bound to one queue backend and one result backend."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        queue: BaseJobQueue | None = None,
        results: BaseResultBackend | None = None,
        task_modules: Sequence[str] = (),
    ) -> None:
        self.settings = settings or get_settings()
        if queue is None:
            from nuvom.queue import get_queue_backend

            queue = get_queue_backend()
        if results is None:
            from nuvom.result_store import get_backend

            results = get_backend()
        self.queue = queue
        self.results = results
        modules = list(task_modules) or [m for m in self.settings.tasks.split(",") if m.strip()]
        self.task_modules = import_task_modules(modules)

        self._capacity = self.settings.max_workers + self.settings.prefetch_batches * self.settings.batch_size
        self._claimed: dict[str, Job] = {}  # job id -> job, from pop_batch until acked/nacked
        self._claimed_changed = threading.Condition()
        self._work: queue_module.SimpleQueue[Job | None] = queue_module.SimpleQueue()
        self._waiting: list[tuple[float, int, Job]] = []  # not yet due (queue handed it out early)
        self._order = itertools.count()
        self._running: dict[int, tuple[Job, RunningJob]] = {}  # executor thread id -> attempt
        self._running_lock = threading.Lock()
        self._stopping = threading.Event()
        self._executors: list[threading.Thread] = []
        self._executor_names = itertools.count(1)
        self._stats = {"processed": 0, "succeeded": 0, "failed": 0, "retried": 0}
        self._stats_lock = threading.Lock()
        self._writer = OutcomeWriter(self.queue, self.results, self._acked)
        self._monitor = TimeoutMonitor(self._timed_out, self._stuck, INTERRUPT_GRACE_SECS)
        self._dispatcher = threading.Thread(target=self._dispatch, name="nuvom-dispatcher", daemon=True)
        self._main = threading.Thread(target=self._lifecycle, name="nuvom-worker", daemon=True)
        self._started = False

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start all threads and return at once."""
        if self._started:
            return
        self._started = True
        log.info(
            "worker starting: %d executor threads, batch size %d, queue %s, results %s, tasks: %s",
            self.settings.max_workers, self.settings.batch_size, type(self.queue).__name__,
            type(self.results).__name__, ", ".join(TASKS.names()) or "none",
        )
        self._writer.start()
        self._monitor.start()
        for _ in range(self.settings.max_workers):
            self._start_executor()
        self._dispatcher.start()
        self._main.start()

    def run(self) -> int:
        """Start, block until stopped, and return the process exit code (0)."""
        self.start()
        while not self.join(0.2):
            pass
        return 0

    def request_stop(self) -> None:
        """Begin a graceful stop; `join` waits for it to complete."""
        if not self._stopping.is_set():
            log.info("stopping: no new jobs; running jobs get %.1f s to finish", self.settings.shutdown_grace_secs)
            self._stopping.set()
            with self._claimed_changed:
                self._claimed_changed.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a stop to complete; True once the worker has fully stopped."""
        self._main.join(timeout)
        return not self._main.is_alive()

    @property
    def stats(self) -> dict[str, int]:
        with self._stats_lock:
            stats = dict(self._stats)
        with self._claimed_changed:
            stats["in_flight"] = len(self._claimed)
        return stats

    def _lifecycle(self) -> None:
        self._stopping.wait()
        self._dispatcher.join()
        self._hand_back_unstarted()
        deadline = time.monotonic() + self.settings.shutdown_grace_secs
        for _ in self._executors:
            self._work.put(None)
        while time.monotonic() < deadline and self._running_jobs():
            time.sleep(0.02)
        overrun = self._settle_running_for_shutdown()
        if overrun:
            log.warning("handing back %d jobs still running after the grace period", len(overrun))
            self._nack(overrun)
        self._monitor.stop()
        if not self._writer.close(timeout=max(5.0, self.settings.shutdown_grace_secs)):
            log.error("stopped before every outcome could be written; those jobs will be handed out again")
        log.info("worker stopped: %s", self.stats)

    # dispatcher --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        renew_every = max(self.settings.lease_secs / 3, 0.05)
        poll = min(0.5, renew_every)
        next_renewal = time.monotonic() + renew_every
        backoff = 0.1
        while not self._stopping.is_set():
            if time.monotonic() >= next_renewal:
                self._renew_leases()
                next_renewal = time.monotonic() + renew_every
            self._release_due()
            room = self._wait_for_room(poll)
            if room <= 0:
                continue
            try:
                jobs = call_pop_batch(self.queue, min(room, self.settings.batch_size), self._next_wait(poll))
                backoff = 0.1
            except Exception as error:
                log.error(
                    "queue backend %s failed in pop_batch (%s: %s); retrying in %.1f s",
                    type(self.queue).__name__, type(error).__name__, error, backoff,
                )
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECS)
                continue
            if not jobs:
                continue
            now = time.time()
            with self._claimed_changed:
                for job in jobs:
                    self._claimed[job.id] = job
            for job in jobs:
                if job.is_due(now):
                    self._work.put(job)
                else:
                    heapq.heappush(self._waiting, (job.next_retry_at, next(self._order), job))

    def _wait_for_room(self, timeout: float) -> int:
        with self._claimed_changed:
            room = self._capacity - len(self._claimed)
            if room <= 0 and not self._stopping.is_set():
                self._claimed_changed.wait(timeout)
                room = self._capacity - len(self._claimed)
            return room

    def _next_wait(self, poll: float) -> float:
        """How long pop_batch may block: not past the next held job's due time."""
        if self._waiting:
            return max(0.0, min(poll, self._waiting[0][0] - time.time()))
        return poll

    def _release_due(self) -> None:
        now = time.time()
        while self._waiting and self._waiting[0][0] <= now:
            self._work.put(heapq.heappop(self._waiting)[2])

    def _renew_leases(self) -> None:
        with self._claimed_changed:
            jobs = list(self._claimed.values())
        if not jobs:
            return
        try:
            self.queue.renew(jobs)
        except Exception as error:
            log.error("could not renew the lease of %d jobs (%s: %s)", len(jobs), type(error).__name__, error)

    def _hand_back_unstarted(self) -> None:
        unstarted = [job for _, _, job in self._waiting]
        self._waiting.clear()
        while True:
            try:
                job = self._work.get_nowait()
            except queue_module.Empty:
                break
            if job is not None:
                unstarted.append(job)
        if unstarted:
            log.info("handing back %d jobs that had not started", len(unstarted))
            self._nack(unstarted)

    def _nack(self, jobs: list[Job]) -> None:
        try:
            self.queue.nack(jobs)
        except Exception as error:
            log.error(
                "could not hand back %d jobs (%s: %s); they return to the queue when their lease ends",
                len(jobs), type(error).__name__, error,
            )
        with self._claimed_changed:
            for job in jobs:
                self._claimed.pop(job.id, None)
            self._claimed_changed.notify_all()

    def _acked(self, outcomes: list[Outcome]) -> None:
        with self._stats_lock:
            for outcome in outcomes:
                self._stats[outcome.kind] += 1
            self._stats["processed"] += len(outcomes)
        with self._claimed_changed:
            for outcome in outcomes:
                self._claimed.pop(outcome.job.id, None)
            self._claimed_changed.notify_all()

    # executors ---------------------------------------------------------------------------

    def _start_executor(self) -> None:
        thread = threading.Thread(
            target=self._execute_loop, name=f"nuvom-executor-{next(self._executor_names)}", daemon=True
        )
        self._executors.append(thread)
        thread.start()

    def _execute_loop(self) -> None:
        while True:
            try:
                job = self._work.get()
                if job is None:
                    return
                if self._run_job(job) == "abandoned":
                    return
            except JobInterrupted:
                continue  # an interrupt that arrived just after its job ended

    def _run_job(self, job: Job) -> str:
        thread_id = threading.get_ident()
        timeout = job.timeout_secs
        policy = job.timeout_policy
        deadline = time.monotonic() + timeout if timeout and policy != TimeoutPolicy.IGNORE else None
        attempt = RunningJob(thread_id, deadline)
        job.status = JobStatus.RUNNING
        job.attempts += 1
        with self._running_lock:
            self._running[thread_id] = (job, attempt)
        self._monitor.watch(attempt)
        try:
            outcome = self._call_task(job)
        except JobInterrupted:
            outcome = None
        finally:
            self._monitor.unwatch(attempt)
            with self._running_lock:
                current = self._running.get(thread_id)
                if current is not None and current[1] is attempt:
                    del self._running[thread_id]
                abandoned = current is None or current[1] is not attempt
        if outcome is not None and attempt.settle():
            self._writer.put(outcome)
        return "abandoned" if abandoned else "done"

    def _call_task(self, job: Job) -> Outcome:
        task = TASKS.get(job.func_name)
        if task is None:
            modules = ", ".join(self.task_modules) or "none (pass --tasks)"
            return failure(
                job, LookupError(f"no task named {job.func_name!r} in this worker; imported task modules: {modules}"),
                retryable=False,
            )
        try:
            result = task.func(*job.args, **job.kwargs)
        except JobInterrupted:
            raise
        except Exception as error:
            log.warning("job %s (%s) raised %s: %s", job.id, job.func_name, type(error).__name__, error)
            return failure(job, error)
        try:
            ensure_msgpack_safe(result, what=f"task {job.func_name!r}: result")
        except UnsafeValueError as error:
            return failure(job, error, retryable=False)
        return success(job, result)

    def _timed_out(self, attempt: RunningJob) -> bool:
        """Monitor callback: settle an overrunning job by its policy; True to interrupt it."""
        with self._running_lock:
            current = self._running.get(attempt.thread_id)
        if current is None or current[1] is not attempt or not attempt.settle():
            return False
        job = current[0]
        message = f"task {job.func_name!r} timed out after {job.timeout_secs:g} s"
        log.warning("job %s: %s", job.id, message)
        retryable = job.timeout_policy == TimeoutPolicy.RETRY
        self._writer.put(failure(job, TimeoutError(message), retryable=retryable))
        return True

    def _stuck(self, attempt: RunningJob) -> None:
        """Monitor callback: the interrupted thread is still busy (a C call?): replace it."""
        with self._running_lock:
            current = self._running.get(attempt.thread_id)
            if current is None or current[1] is not attempt:
                return
            del self._running[attempt.thread_id]
        log.warning(
            "job %s (%s) did not stop after its timeout (stuck in a C call?); abandoning its thread "
            "and starting a replacement executor",
            current[0].id, current[0].func_name,
        )
        if not self._stopping.is_set():
            self._start_executor()

    def _running_jobs(self) -> list[tuple[Job, RunningJob]]:
        with self._running_lock:
            return list(self._running.values())

    def _settle_running_for_shutdown(self) -> list[Job]:
        """Jobs still running after the grace period: take them over so late results are dropped."""
        return [job for job, attempt in self._running_jobs() if attempt.settle()]
