"""Real `nuvom runworker` processes on one SQLite queue: kills, signals, no lost or doubled jobs."""

from __future__ import annotations

import signal
from collections import Counter

from nuvom.queue_backends.sqlite import SQLiteJobQueue
from nuvom.result_backends.sqlite import SQLiteResultBackend

from tests.conftest import wait_until
from tests.worker import sample_tasks

WORKER = ["-m", "nuvom.cli.main", "runworker", "--tasks", "tests.worker.sample_tasks"]


def lines(path):
    return path.read_text().split("\n") if path.exists() else []


def stored(job_ids):
    results = SQLiteResultBackend()
    return {job_id for job_id in job_ids if results.get_full(job_id)}


def test_a_job_whose_worker_was_killed_is_finished_by_another_worker(tmp_path, processes, monkeypatch):
    monkeypatch.setenv("NUVOM_LEASE_SECS", "1")
    log = tmp_path / "log"
    job = sample_tasks.logged.delay(str(log), 7, 30)  # takes 30 s: the first worker dies inside it
    first = processes.python(*WORKER, "-w", "1")
    wait_until(lambda: "start 7" in lines(log), 10, "the first worker never started the job")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=5)
    monkeypatch.setenv("NUVOM_LEASE_SECS", "60")
    sample_tasks.logged.delay(str(log), 8)  # proves the second worker is up before the lease ends
    processes.python(*WORKER, "-w", "2")
    wait_until(lambda: "done 8" in lines(log), 15, "the second worker did not run")
    wait_until(lambda: lines(log).count("start 7") == 2, 15, "the killed worker's job was not handed out again")
    assert SQLiteJobQueue().qsize() == 0, "the job should be leased by the second worker now"
    assert SQLiteResultBackend().get_full(job.id) is None, "the job cannot have finished: it takes 30 s"


def test_two_workers_on_one_queue_never_run_a_job_twice(tmp_path, processes):
    log = tmp_path / "log"
    worker_logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = [
        processes.python(*WORKER, "-w", "3", "-b", "8", stderr=open(path, "w")) for path in worker_logs
    ]
    for path in worker_logs:
        wait_until(lambda: "worker starting" in path.read_text(), 15, f"a worker did not start: {path.read_text()[-700:]}")
    jobs = sample_tasks.logged.map([(str(log), i, 0.002) for i in range(400)])
    wait_until(lambda: len(stored([job.id for job in jobs])) == 400, 60, "not every job finished")
    for worker in workers:
        worker.send_signal(signal.SIGINT)
    assert [worker.wait(timeout=15) for worker in workers] == [0, 0]
    for path in worker_logs:
        assert "'processed': 0," not in path.read_text(), "one worker did all the work: nothing was shared"
    starts = Counter(line for line in lines(log) if line.startswith("start"))
    assert len(starts) == 400 and max(starts.values()) == 1, (
        f"jobs run twice: {[line for line, n in starts.items() if n > 1][:5]}"
    )


def test_sigint_loses_no_queued_job(tmp_path, processes):
    log = tmp_path / "log"
    jobs = sample_tasks.logged.map([(str(log), i, 0.05) for i in range(300)])
    worker = processes.python(*WORKER, "-w", "2", "-b", "16")
    wait_until(lambda: sum(1 for line in lines(log) if line.startswith("done")) >= 20, 20, "the worker did no work")
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=15) == 0, "the worker did not exit 0 after SIGINT"
    ids = [job.id for job in jobs]
    done, waiting = stored(ids), SQLiteJobQueue().qsize()
    assert 0 < len(done) < 300, "the test needs a stop in the middle of the work"
    assert len(done) + waiting == 300, f"{300 - len(done) - waiting} jobs lost: {len(done)} done, {waiting} queued"
    started = {line.split()[1] for line in lines(log) if line.startswith("start")}
    finished = {line.split()[1] for line in lines(log) if line.startswith("done")}
    assert started == finished, "a running job was cut off instead of finishing in the grace period"
    second = processes.python(*WORKER, "-w", "2", "-b", "16")
    wait_until(lambda: len(stored(ids)) == 300, 30, "the second worker did not finish the handed-back jobs")
    second.send_signal(signal.SIGINT)
    assert second.wait(timeout=15) == 0
