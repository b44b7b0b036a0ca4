"""`python -m examples.demo` (what `./dev demo` runs): a worker on isolated plugin backends.

In a fresh project directory it configures four plugins, each to run in its own host
process: the queue backend of Nuvom's plugin docs (SQLite-backed), a result backend,
and two misbehaving plugins, one that segfaults in `start()` and one that hangs there.
It enqueues jobs (which starts the queue plugin's host lazily in this producer),
runs `nuvom runworker` on them, prints every outcome, shows `nuvom plugin list` while
the worker runs and what the worker reported about the bad plugins, then stops the
worker with SIGINT. Exit code 0 when every job ended as expected, the good plugins
ran and both bad ones were reported as failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DEADLINE_SECS = 30
PLUGINS = """
    [plugins]
    queue_backend = ["examples.plugins.sqlite_queue:MyPlugin",
                     "examples.plugins.misbehaving.plugins:BadSegfault",
                     "examples.plugins.misbehaving.plugins:BadHang"]
    result_backend = ["examples.plugins.file_results:ResultsPlugin"]

    [plugin.my_queue]
    settings = {{ path = "{workdir}/queue.db" }}
    write_paths = ["{workdir}"]          # the sandbox lets a plugin write only where it is told

    [plugin.file_results]
    settings = {{ path = "{workdir}/results.db" }}
    write_paths = ["{workdir}"]

    [plugin.bad_segfault]        # crashes the interpreter in start()
    max_restarts = 0

    [plugin.bad_hang]            # never returns from start()
    start_timeout = 1
"""


def wait_for_states(state_file: Path, names: set[str], deadline_secs: float) -> dict:
    """The worker's published plugin states, once every plugin in `names` is running or failed."""
    deadline = time.monotonic() + deadline_secs
    plugins: dict = {}
    while time.monotonic() < deadline:
        try:
            plugins = json.loads(state_file.read_text())["plugins"]
        except (OSError, ValueError, KeyError):
            plugins = {}
        if names <= set(plugins) and all(plugins[n]["state"] in ("running", "failed") for n in names):
            break
        time.sleep(0.05)
    return plugins


def error_reports(log_path: Path, about: str) -> list[str]:
    """The worker's ERROR records mentioning `about`, each with its continuation lines."""
    reports: list[str] = []
    current: list[str] | None = None
    for line in log_path.read_text(errors="replace").splitlines():
        if line[:4].isdigit():  # a new record starts with its timestamp
            current = None
            if " ERROR " in line and about in line:
                current = [line.split(": ", 1)[-1]]
                reports.append(current)
        elif current is not None:
            current.append(line)
    return ["\n".join(lines[:12]) for lines in reports]


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="nuvom-demo-"))
    (workdir / ".nuvom_plugins.toml").write_text(textwrap.dedent(PLUGINS.format(workdir=workdir)))
    os.chdir(workdir)
    os.environ.update(NUVOM_QUEUE_BACKEND="my_custom_queue", NUVOM_RESULT_BACKEND="file_results")
    os.environ.setdefault("NUVOM_LOG_LEVEL", "INFO")

    from examples.quickstart.enqueue import enqueue_jobs
    from examples.quickstart.running import print_outcomes, start_worker, stop_worker, worker_environment

    print(f"project {workdir}: queue and results served by plugins in their own processes,")
    print("next to two plugins that misbehave (segfault, hang) in start()\n")
    jobs = enqueue_jobs(workdir)
    print(f"enqueued {len(jobs)} jobs through the queue plugin (its host started lazily in this producer)")
    log_path = workdir / "worker.log"
    worker = start_worker(workdir, log_path)
    print(f"worker running (pid {worker.pid}, log in {log_path})\n")
    try:
        jobs_ok = print_outcomes(jobs, DEADLINE_SECS, expected_failures={"divide"})
        states = wait_for_states(workdir / ".nuvom" / "plugins.json",
                                 {"my_queue", "file_results", "bad_segfault", "bad_hang"}, DEADLINE_SECS)
        print("\n$ nuvom plugin list")
        listing = subprocess.run([sys.executable, "-m", "nuvom.cli.main", "plugin", "list"],
                                 capture_output=True, text=True, timeout=30, env=worker_environment())
        print(textwrap.indent((listing.stdout + listing.stderr).rstrip(), "  "))
    finally:
        code = stop_worker(worker)
    print("\nwhat the worker reported about the misbehaving plugins:")
    for report in error_reports(log_path, "bad_"):
        print(textwrap.indent(report, "  "))
    plugins_ok = (
        {states.get(n, {}).get("state") for n in ("my_queue", "file_results")} == {"running"}
        and {states.get(n, {}).get("state") for n in ("bad_segfault", "bad_hang")} == {"failed"}
    )
    print(f"\nworker stopped with exit code {code}; the bad plugins were contained, the jobs "
          f"{'all' if jobs_ok else 'NOT all'} ended as expected")
    print(f"try:  cd {workdir} && nuvom plugin inspect bad_hang")
    return 0 if jobs_ok and plugins_ok and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
