"""`nuvom`: run a worker, look at jobs, manage plugins.

Every command turns Nuvom's own errors (bad settings, unknown backend, a task
module that does not import, an unknown job id) into one line on stderr and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from datetime import datetime
from typing import Any, List, Optional

import typer

import nuvom
from nuvom.cli.errors import CommandError, friendly_errors
from nuvom.cli.plugin import plugin_app
from nuvom.config import get_settings, reload_settings

app = typer.Typer(
    help="Nuvom: a lightweight task queue whose plugins run sandboxed in their own processes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
inspect_app = typer.Typer(help="Show one item in detail.", no_args_is_help=True)
list_app = typer.Typer(help="List items.", no_args_is_help=True)
app.add_typer(inspect_app, name="inspect")
app.add_typer(list_app, name="list")
app.add_typer(plugin_app, name="plugin")


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")


@app.command()
@friendly_errors
def runworker(
    tasks: Optional[List[str]] = typer.Option(
        None, "--tasks", "-t", help="Module(s) with your @task functions, e.g. examples.quickstart.tasks."
    ),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Executor threads."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1, help="Jobs taken per pop_batch."),
) -> None:
    """Run a worker until SIGINT/SIGTERM; running jobs finish, unstarted ones go back to the queue."""
    import dataclasses

    from nuvom.worker import Worker

    stop_requested: list[int] = []
    worker: Worker | None = None

    def stop(signum: int, _frame: Any) -> None:
        logging.getLogger("nuvom.worker").info("received %s", signal.Signals(signum).name)
        stop_requested.append(signum)
        if worker is not None:
            worker.request_stop()

    signal.signal(signal.SIGINT, stop)  # before start-up, so an early Ctrl-C is a clean stop too
    signal.signal(signal.SIGTERM, stop)
    settings = reload_settings()
    overrides = {key: value for key, value in (("max_workers", workers), ("batch_size", batch_size)) if value}
    settings = dataclasses.replace(settings, **overrides)
    _configure_logging(settings.log_level)
    modules = [module for entry in (tasks or []) for module in entry.split(",")]
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # task modules live in the project, as with `python -m`
    from nuvom.plugins.manager import get_manager

    from nuvom.plugins.state import StateFile

    plugins = get_manager(".")
    plugins.state_file = StateFile(".")  # `nuvom plugin list` / `inspect` show these states while we run
    plugins.start_all()
    try:
        worker = Worker(settings, task_modules=modules)
        if stop_requested:
            worker.request_stop()
        code = worker.run()
    finally:
        plugins.stop_all()
    raise typer.Exit(code)


def _record_or_fail(job_id: str) -> dict:
    from nuvom.result_store import get_full

    record = get_full(job_id)
    if record is None:
        raise CommandError(f"no stored outcome for job {job_id!r} (unknown id, or it has not finished yet)")
    return record


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


@inspect_app.command("job")
@friendly_errors
def inspect_job(
    job_id: str = typer.Argument(..., help="The job's id (as printed by .delay() or `nuvom list jobs`)."),
    format: str = typer.Option("table", "--format", "-f", help="table, json or raw."),
) -> None:
    """Show a job's stored outcome: status, result or error with its traceback."""
    if format not in ("table", "json", "raw"):
        raise CommandError(f"unknown format {format!r}; use table, json or raw")
    record = _record_or_fail(job_id)
    if format == "raw":
        typer.echo(repr(record))
        return
    if format == "json":
        typer.echo(json.dumps(record, indent=2, default=repr))
        return
    rows = [
        ("id", record["job_id"]),
        ("task", record["func_name"]),
        ("status", record["status"]),
        ("args", json.dumps(record["args"], default=repr)),
        ("kwargs", json.dumps(record["kwargs"], default=repr)),
        ("attempts", record["attempts"]),
        ("retries left", record["retries_left"]),
        ("created", _when(record["created_at"])),
        ("completed", _when(record["completed_at"])),
    ]
    if record["status"] == "SUCCESS":
        rows.append(("result", json.dumps(record["result"], default=repr)))
    for label, value in rows:
        typer.echo(f"{label:>13}  {value}")
    error = record.get("error")
    if error:
        typer.echo(f"{'error':>13}  {error['type']}: {error['message']}")
        if error.get("traceback"):
            typer.echo("\n" + error["traceback"].rstrip())


@list_app.command("jobs")
@friendly_errors
def list_jobs(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many of the most recent jobs."),
    status: Optional[str] = typer.Option(None, "--status", "-s", help="Only SUCCESS or FAILED."),
) -> None:
    """List recently finished jobs, newest first."""
    from nuvom.result_store import get_backend

    wanted = status.upper() if status else None
    if wanted not in (None, "SUCCESS", "FAILED"):
        raise CommandError(f"unknown status {status!r}; use SUCCESS or FAILED")
    records = get_backend().list_jobs(None if wanted else limit)
    records = [r for r in records if wanted in (None, r["status"])][:limit]
    if not records:
        typer.echo("no finished jobs")
        return
    typer.echo(f"{'JOB ID':36}  {'TASK':20}  {'STATUS':7}  {'COMPLETED':19}  RESULT / ERROR")
    for record in records:
        error = record.get("error")
        detail = f"{error['type']}: {error['message']}" if error else json.dumps(record["result"], default=repr)
        typer.echo(
            f"{record['job_id']:36}  {record['func_name'][:20]:20}  {record['status']:7}  "
            f"{_when(record['completed_at']):19}  {detail[:60]}"
        )


@app.command()
def version() -> None:
    """Print Nuvom's version."""
    typer.echo(f"nuvom {nuvom.__version__} (Python {sys.version.split()[0]})")


@app.command()
@friendly_errors
def config() -> None:
    """Print the effective settings (NUVOM_* variables and .env)."""
    for key, value in get_settings().as_dict().items():
        typer.echo(f"{key:20} {value}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
