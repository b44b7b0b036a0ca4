"""No-op jobs per second through the worker: memory vs SQLite backends, side by side.

    python benchmarks/throughput.py [--jobs N] [--quick]

Each backend gets the same run: N no-op jobs enqueued with one `map`-style batch
while a Worker (in this process, 4 executor threads) drains them; the clock runs
from the enqueue until the last outcome is stored and acknowledged. For scale, on
a 2-core machine Huey's thread consumer ran ~40,000 no-op jobs/s on memory and
~1,800 on SQLite; upstream Nuvom 0.11.2 ~3,500 and ~800.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nuvom.config import Settings  # noqa: E402
from nuvom.job import Job  # noqa: E402
from nuvom.queue_backends.memory import MemoryJobQueue  # noqa: E402
from nuvom.queue_backends.sqlite import SQLiteJobQueue  # noqa: E402
from nuvom.result_backends.memory import MemoryResultBackend  # noqa: E402
from nuvom.result_backends.sqlite import SQLiteResultBackend  # noqa: E402
from nuvom.task import task  # noqa: E402
from nuvom.worker import Worker  # noqa: E402


@task
def bench_noop():
    return None


def jobs_per_second(queue, results, count: int) -> float:
    worker = Worker(Settings(max_workers=4, batch_size=64), queue=queue, results=results)
    worker.start()
    jobs = [Job("bench_noop") for _ in range(count)]
    started = time.perf_counter()
    queue.enqueue_many(jobs)
    while worker.stats["processed"] < count:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    worker.request_stop()
    worker.join(10)
    assert worker.stats["succeeded"] == count
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="5,000 jobs")
    args = parser.parse_args()
    count = 5_000 if args.quick else args.jobs
    with tempfile.TemporaryDirectory() as tmp:
        memory = jobs_per_second(MemoryJobQueue(), MemoryResultBackend(), count)
        sqlite = jobs_per_second(
            SQLiteJobQueue(Path(tmp) / "queue.db"), SQLiteResultBackend(Path(tmp) / "result.db"), count
        )
    print(f"no-op jobs through the worker ({count:,} jobs, 4 executor threads, batch 64)")
    print(f"  {'backend':10} {'jobs/s':>10}")
    print(f"  {'memory':10} {memory:>10,.0f}")
    print(f"  {'sqlite':10} {sqlite:>10,.0f}")
    print(f"  sqlite / memory = {sqlite / memory:.2f}")
    print("  for scale (2 cores): Huey ~40,000 memory / ~1,800 sqlite; upstream Nuvom ~3,500 / ~800")


if __name__ == "__main__":
    main()
