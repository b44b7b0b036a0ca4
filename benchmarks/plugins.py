"""What isolation costs: plugin hosts versus in-process, side by side in one run.

    python benchmarks/plugins.py [--jobs N] [--quick]

1. No-op jobs/s through a Worker (4 executor threads, batch 64) with the built-in memory
   queue in this process, then with the same queue class served from a plugin host
   (results in memory, in process, for both). Target: isolated >= 50% of in-process.
2. Host cold start (spawn -> handshake -> start() -> running) in a fresh worker, which
   starts the zygote first, versus a bare `python -c "import msgpack"`. Target: at most
   3x. Also: a further host, forked from the running zygote.
3. PluginManager.start_all() with 10 plugins versus 1, each in a fresh worker (zygote
   included). Target: at most 60% of 10x.
4. Memory of an idle host (started, sandboxed, nothing served yet): resident, proportional
   (shared pages split among the processes using them) and private.

Hosts run with the default sandbox (docs/security.md), so its cost is included.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nuvom.config import Settings  # noqa: E402
from nuvom.job import Job  # noqa: E402
from nuvom.plugins.discovery import load_plugin_specs  # noqa: E402
from nuvom.plugins.manager import PluginManager  # noqa: E402
from nuvom.plugins.registry import REGISTRY  # noqa: E402
from nuvom.plugins.spawner import spawner  # noqa: E402
from nuvom.queue_backends.memory import MemoryJobQueue  # noqa: E402
from nuvom.result_backends.memory import MemoryResultBackend  # noqa: E402
from nuvom.task import task  # noqa: E402
from nuvom.worker import Worker  # noqa: E402

PLUGIN_SOURCE = '''
from nuvom.plugins.contracts import Plugin
from nuvom.plugins.registry import register_queue_backend
from nuvom.queue_backends.memory import MemoryJobQueue
'''
PLUGIN_CLASS = '''

class Bench{index}(Plugin):
    name = "bench_{index}"
    provides = ["queue_backend"]

    def start(self, settings):
        register_queue_backend("bench_queue_{index}", MemoryJobQueue)

    def stop(self):
        pass
'''
ENQUEUE_CHUNK = 1_000  # jobs per enqueue_many call (one message each, well under the 8 MiB limit)


@task
def bench_noop():
    return None


def project_with_plugins(directory: Path, count: int) -> Path:
    """A project whose .nuvom_plugins.toml lists `count` plugins, each serving a memory queue."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench_plugins.py").write_text(
        PLUGIN_SOURCE + "".join(PLUGIN_CLASS.format(index=i) for i in range(count))
    )
    listed = ", ".join(f'"bench_plugins:Bench{i}"' for i in range(count))
    (directory / ".nuvom_plugins.toml").write_text(f"[plugins]\nqueue_backend = [{listed}]\n")
    return directory


def jobs_per_second(queue, count: int) -> float:
    worker = Worker(Settings(max_workers=4, batch_size=64), queue=queue, results=MemoryResultBackend())
    worker.start()
    jobs = [Job("bench_noop") for _ in range(count)]
    started = time.perf_counter()
    for offset in range(0, count, ENQUEUE_CHUNK):
        queue.enqueue_many(jobs[offset:offset + ENQUEUE_CHUNK])
    while worker.stats["processed"] < count:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    worker.request_stop()
    worker.join(10)
    assert worker.stats["succeeded"] == count, worker.stats
    return count / elapsed


def started_manager(project: Path, cold: bool = True) -> tuple[PluginManager, float]:
    """A manager with every plugin of `project` running, and how long start_all took.

    `cold`: as in a freshly started worker, without a zygote yet (its start is included).
    """
    if cold:
        spawner.close()
    manager = PluginManager(load_plugin_specs(project, entry_points=False))
    started = time.perf_counter()
    manager.start_all()
    elapsed = time.perf_counter() - started
    failed = [name for name, s in manager.supervisors.items() if s.state != "running"]
    assert not failed, f"plugins did not start: {failed}"
    return manager, elapsed


def memory_mib(pid: int) -> dict[str, float]:
    """Rss (all resident pages), Pss (shared pages split among their users), Private (its own)."""
    found = {"Rss": float("nan"), "Pss": float("nan"), "Private": 0.0}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                found[key] = int(rest.split()[0]) / 1024
            elif key in ("Private_Clean", "Private_Dirty"):
                found["Private"] += int(rest.split()[0]) / 1024
    return found


def bare_interpreter_secs() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import msgpack"], check=True)
    return time.perf_counter() - started


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the hosts' sandbox warnings are not the point here
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="5,000 jobs, 3 repetitions")
    args = parser.parse_args()
    count = 5_000 if args.quick else args.jobs
    repeats = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        one = project_with_plugins(Path(tmp) / "one", 1)
        ten = project_with_plugins(Path(tmp) / "ten", 10)

        started_manager(one)[0].stop_all()  # the zygote is running now: measure a forked host, the usual kind
        manager, _ = started_manager(one, cold=False)
        local_rates, isolated_rates = [], []
        try:
            memory = memory_mib(manager.supervisors["bench_0"].pid)  # idle: started, nothing served yet
            for _ in range(1 if args.quick else 3):  # alternated: this machine's speed drifts within a run
                local_rates.append(jobs_per_second(MemoryJobQueue(), count))
                isolated_rates.append(jobs_per_second(REGISTRY.get("queue_backend", "bench_queue_0")(), count))
        finally:
            manager.stop_all()
        in_process, isolated = statistics.median(local_rates), statistics.median(isolated_rates)

        cold, warm, bare, single, tenfold = [], [], [], [], []
        for _ in range(repeats):
            bare.append(bare_interpreter_secs())
            manager, elapsed = started_manager(one)
            manager.stop_all()
            cold.append(elapsed)
            single.append(elapsed)
            manager, elapsed = started_manager(one, cold=False)
            manager.stop_all()
            warm.append(elapsed)
            manager, elapsed = started_manager(ten)
            manager.stop_all()
            tenfold.append(elapsed)

    cold_s, bare_s = statistics.median(cold), statistics.median(bare)
    single_s, ten_s = statistics.median(single), statistics.median(tenfold)
    print(f"plugin isolation costs ({count:,} no-op jobs, median of {len(local_rates)} alternated runs each; "
          f"medians of {repeats} start-ups)")
    print(f"  jobs/s, memory queue in process   {in_process:>10,.0f}")
    print(f"  jobs/s, memory queue in a host    {isolated:>10,.0f}   isolated / in-process = "
          f"{isolated / in_process:.2f}  (target >= 0.50)")
    print(f"  host cold start (spawn -> running) {cold_s * 1000:>8.1f} ms   (a fresh worker: the zygote starts first)")
    print(f"  each further host (warm zygote)    {statistics.median(warm) * 1000:>8.1f} ms")
    print(f"  bare `python -c 'import msgpack'`  {bare_s * 1000:>8.1f} ms   cold start / bare = "
          f"{cold_s / bare_s:.2f}  (target <= 3)")
    print(f"  start_all, 1 plugin                {single_s * 1000:>8.1f} ms")
    print(f"  start_all, 10 plugins              {ten_s * 1000:>8.1f} ms   10 plugins / (10 x 1) = "
          f"{ten_s / (10 * single_s):.2f}  (target <= 0.60)")
    print(f"  memory of an idle host             {memory['Rss']:>8.1f} MiB resident, {memory['Pss']:.1f} MiB "
          f"proportional, {memory['Private']:.1f} MiB its own (the rest is shared with the zygote)")


if __name__ == "__main__":
    main()
