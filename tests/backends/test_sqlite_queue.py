"""The SQLite queue across real processes: exclusive claims, leases, durability, dead jobs."""

from __future__ import annotations

import resource
import signal
import time
from collections import Counter
from pathlib import Path

from nuvom.job import Job
from nuvom.queue_backends.sqlite import SQLiteJobQueue

from tests.conftest import wait_until

CLAIMER = str(Path(__file__).with_name("claimer.py"))


def test_concurrent_processes_never_claim_the_same_job(tmp_path, processes):
    path = tmp_path / "q.db"
    jobs = [Job("t", args=[i]) for i in range(600)]
    SQLiteJobQueue(path).enqueue_many(jobs)
    go = tmp_path / "go"
    claimers = [processes.python(CLAIMER, str(path), "30", "drain", str(go), stdout=-1, text=True) for _ in range(4)]
    for claimer in claimers:
        assert claimer.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [claimer.communicate(timeout=60)[0] for claimer in claimers]
    claimed = Counter(line for out in outputs for line in out.split())
    assert sorted(claimed) == sorted(job.id for job in jobs), "some jobs were never claimed"
    assert max(claimed.values()) == 1, f"jobs claimed twice: {[i for i, n in claimed.items() if n > 1][:5]}"
    assert sum(1 for out in outputs if out.strip()) >= 2, "only one process got work: no contention tested"


def test_a_job_held_by_a_killed_process_is_handed_out_after_its_lease(tmp_path, processes):
    path = tmp_path / "q.db"
    job = Job("t")
    SQLiteJobQueue(path).enqueue(job)
    holder = processes.python(CLAIMER, str(path), "1", "hold", stdout=-1, text=True)
    assert holder.stdout.readline().strip() == job.id
    queue = SQLiteJobQueue(path, lease_secs=30)
    assert queue.pop_batch(1, timeout=0.1) == [], "a leased job was handed out while its lease ran"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=5)
    again = wait_until(lambda: queue.pop_batch(1, timeout=0.1), 5, "the job never came back after the lease")
    assert again[0].id == job.id


def test_jobs_survive_reopening_the_file(tmp_path):
    path = tmp_path / "q.db"
    first = SQLiteJobQueue(path)
    first.enqueue_many([Job("t", args=[i]) for i in range(3)])
    first.close()
    reopened = SQLiteJobQueue(path)
    assert [job.args for job in reopened.pop_batch(10, timeout=0)] == [[0], [1], [2]]


def test_renew_keeps_a_long_job_from_being_handed_out_twice(tmp_path):
    path = tmp_path / "q.db"
    worker_a = SQLiteJobQueue(path, lease_secs=0.5)
    worker_b = SQLiteJobQueue(path, lease_secs=0.5)
    worker_a.enqueue(Job("t"))
    held = worker_a.pop_batch(1, timeout=0)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        worker_a.renew(held)
        assert worker_b.pop_batch(1, timeout=0.1) == [], "a renewed lease expired"
    worker_a.ack(held)
    assert worker_b.pop_batch(1, timeout=0.6) == [], "an acked job came back"


def test_a_job_that_keeps_killing_workers_ends_up_dead(tmp_path, caplog):
    queue = SQLiteJobQueue(tmp_path / "q.db", lease_secs=0.05, max_deliveries=3)
    job = Job("poison")
    queue.enqueue(job)
    deliveries = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not queue.dead_jobs():
        if queue.pop_batch(1, timeout=0.1):
            deliveries += 1  # never acked: as if the worker died each time
    assert deliveries == 3
    assert [dead.id for dead in queue.dead_jobs()] == [job.id]
    assert queue.qsize() == 0 and queue.pop_batch(1, timeout=0.1) == []
    assert "handed out 3 times" in caplog.text


def test_nack_does_not_count_as_a_failed_delivery(tmp_path):
    queue = SQLiteJobQueue(tmp_path / "q.db", max_deliveries=2)
    queue.enqueue(Job("t"))
    for _ in range(5):
        taken = queue.pop_batch(1, timeout=0)
        assert taken, "a nacked job was set aside as dead"
        queue.nack(taken)


def test_an_idle_blocking_pop_does_not_spin(tmp_path):
    queue = SQLiteJobQueue(tmp_path / "q.db")
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    assert queue.pop_batch(8, timeout=1.0) == []
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert wall >= 0.9
    assert cpu < 0.25 * wall, f"an idle pop used {cpu:.2f} s of CPU in {wall:.2f} s"


def test_an_enqueue_in_the_same_process_wakes_a_waiting_pop_at_once(tmp_path):
    import threading

    queue = SQLiteJobQueue(tmp_path / "q.db")
    got: list = []
    waiter = threading.Thread(target=lambda: got.extend(queue.pop_batch(1, timeout=10)))
    waiter.start()
    time.sleep(0.2)  # let the waiter reach its longest poll interval
    queue.enqueue(Job("t"))
    started = time.monotonic()
    waiter.join(5)
    assert got and time.monotonic() - started < 0.2
