"""Enqueue the quickstart's jobs (on the configured queue backend) and return them."""

from __future__ import annotations

from pathlib import Path

from nuvom.job import Job

from examples.quickstart.tasks import add, divide, flaky


def enqueue_jobs(workdir: Path) -> list[Job]:
    jobs = add.map([(i, i * 10) for i in range(5)])
    jobs.append(flaky.delay(str(workdir / "flaky-attempts")))
    jobs.append(divide.delay(1, 0))
    return jobs


if __name__ == "__main__":
    for job in enqueue_jobs(Path(".nuvom")):
        print(job.id, job.func_name, job.args)
