"""`nuvom plugin ...`: test, list, inspect and scaffold plugins.

`list` and `inspect` read the configuration without importing plugin code; while a
worker runs in the project they add the live state it publishes in `.nuvom/plugins.json`
(otherwise `inspect` probes the sandbox with an empty host that loads no plugin). `test` starts the plugin, in a real host with
`--isolated`, checks what it registered and stops it.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from nuvom.cli.errors import CommandError, friendly_errors

plugin_app = typer.Typer(help="Test, list, inspect and scaffold plugins.", no_args_is_help=True)


def _specs(project: str) -> list:
    from nuvom.plugins.discovery import load_plugin_specs

    return load_plugin_specs(project)


def _uptime(started_at: float | None) -> str:
    if not started_at:
        return "-"
    seconds = int(time.time() - started_at)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _live(project: str) -> tuple[dict[str, Any], str]:
    """(live statuses by plugin name, a note saying where they come from)."""
    from nuvom.plugins.state import read_state

    snapshot = read_state(project)
    if snapshot is None:
        return {}, "no worker has run in this project: configuration only"
    if not snapshot["live"]:
        return {}, f"no worker running (the last one, pid {snapshot['worker_pid']}, has exited): configuration only"
    return snapshot["plugins"], f"live state from worker pid {snapshot['worker_pid']}"


@plugin_app.command("list")
@friendly_errors
def list_plugins(
    project: str = typer.Option(".", "--project", "-p", help="Project directory (with .nuvom_plugins.toml)."),
) -> None:
    """Configured plugins, with state, pid, restarts and uptime when a worker is running."""
    specs = _specs(project)
    if not specs:
        typer.echo("no plugins configured (add them to .nuvom_plugins.toml or install a package with "
                   "a 'nuvom' entry point)")
        return
    live, note = _live(project)
    width = max(len("CLASS"), *(len(spec.target) for spec in specs))
    typer.echo(f"{'CAPABILITY':15}  {'NAME':18}  {'CLASS':{width}}  {'ISOLATION':9}  {'STATE':10}  "
               f"{'PID':>7}  {'RESTARTS':>8}  UPTIME")
    for spec in specs:
        status = live.get(spec.name, {})
        state = status.get("state", "-")
        running = state == "running"
        for capability in spec.capabilities:
            typer.echo(
                f"{capability:15}  {spec.name[:18]:18}  {spec.target:{width}}  {spec.policy.isolation:9}  "
                f"{state:10}  {(status.get('pid') or '-') if running else '-':>7}  "
                f"{status.get('restarts', '-'):>8}  {_uptime(status.get('started_at')) if running else '-'}"
            )
    typer.echo(f"({note})")


@plugin_app.command("inspect")
@friendly_errors
def inspect_plugin(
    name: str = typer.Argument(..., help="The plugin's name (as in `nuvom plugin list`)."),
    project: str = typer.Option(".", "--project", "-p", help="Project directory (with .nuvom_plugins.toml)."),
) -> None:
    """One plugin in detail: metadata, settings (secrets masked), policy, state, last failure."""
    import dataclasses

    from nuvom.plugins.manager import own_settings
    from nuvom.plugins.state import mask_secrets, read_state

    specs = {spec.name: spec for spec in _specs(project)}
    spec = specs.get(name)
    if spec is None:
        known = ", ".join(sorted(specs)) or "none are configured"
        raise CommandError(f"no plugin named {name!r} (configured: {known})")
    rows = [
        ("name", spec.name),
        ("class", spec.target),
        ("configured in", spec.source),
        ("capabilities", ", ".join(spec.capabilities)),
        ("provides", ", ".join(spec.provides) or "-"),
        ("isolation", spec.policy.isolation),
    ]
    for label, value in rows:
        typer.echo(f"{label:>14}  {value}")
    typer.echo(f"{'settings':>14}  " + (", ".join(
        f"{key}={value!r}" for key, value in mask_secrets(own_settings(spec)).items()) or "-"))
    typer.echo(f"{'policy':>14}  " + ", ".join(
        f"{field.name}={getattr(spec.policy, field.name)!r}" for field in dataclasses.fields(spec.policy)))
    snapshot = read_state(project)
    status = (snapshot or {}).get("plugins", {}).get(name)
    if snapshot and snapshot["live"] and status:
        typer.echo(f"{'state':>14}  {status['state']} (pid {status.get('pid') or '-'}, "
                   f"{status.get('restarts', 0)} restarts, up {_uptime(status.get('started_at'))}; "
                   f"worker pid {snapshot['worker_pid']})")
        registered = status.get("registered") or {}
        typer.echo(f"{'registered':>14}  " + (", ".join(
            f"{capability} {n!r}" for capability, names in registered.items() for n in names) or "nothing"))
    else:
        typer.echo(f"{'state':>14}  not running (no live worker in this project)")
    if snapshot and snapshot["live"] and status and status.get("sandbox"):
        layers, source = status["sandbox"], "as its running host reported"
    elif spec.policy.isolation == "inprocess":
        layers, source = [], ""
        typer.echo(f"{'sandbox':>14}  none: isolation = \"inprocess\" runs the plugin inside the worker")
    else:
        from nuvom.plugins.supervisor import probe_sandbox

        layers, source = probe_sandbox(spec), "probed now: what a host started on this machine gets"
    if layers:
        typer.echo(f"{'sandbox':>14}  ({source})")
        for line in sandbox_lines(layers):
            typer.echo(f"{'':>16}{line}")
    failure = (status or {}).get("last_failure")
    if failure:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(failure.get("at", 0)))
        typer.echo(f"{'last failure':>14}  at {when}" + ("" if snapshot and snapshot["live"] else " (previous run)"))
        for line in str(failure.get("reason", "")).splitlines():
            typer.echo(f"{'':>16}{line}")
        tail = failure.get("stderr_tail") or []
        if tail and "last stderr lines" not in str(failure.get("reason", "")):
            typer.echo(f"{'stderr tail':>14}")
            for line in tail:
                typer.echo(f"{'':>16}{line}")


def sandbox_lines(layers: list[dict[str, Any]]) -> list[str]:
    """One line per sandbox layer: enforced or not, and what or why."""
    lines = []
    for layer in layers:
        state = "enforced    " if layer.get("enforced") else "NOT enforced"
        lines.append(f"{state}  {layer.get('name', '?'):18} {layer.get('detail', '')}")
    return lines


def _resolve_targets(target: Optional[str], project: str) -> list:
    from nuvom.plugins.discovery import spec_for_target, targets_in

    if target is None:
        specs = _specs(project)
        if not specs:
            raise CommandError("no plugins configured here; name one: nuvom plugin test path/to/plugin.py")
        return specs
    if not any(mark in target for mark in (":", ".", "/")):  # a plugin name, not a module or a file
        configured = {spec.name: spec for spec in _specs(project)}
        if target in configured:
            return [configured[target]]
    return [spec_for_target(found, project) for found in targets_in(target, project)]


@plugin_app.command("test")
@friendly_errors
def test_plugin(
    target: Optional[str] = typer.Argument(
        None, help="A configured plugin name, module[:Class] or file.py[:Class]; default: every configured plugin."
    ),
    isolated: bool = typer.Option(False, "--isolated", help="Run the plugin in a real host, as a worker would."),
    project: str = typer.Option(".", "--project", "-p", help="Project directory (with .nuvom_plugins.toml)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show the plugin's own output."),
) -> None:
    """Load, start, check each backend it registers against the contract, stop; exit 1 on failure."""
    from nuvom.plugins.manager import plugin_settings
    from nuvom.plugins.selftest import Step, run_plugin_test

    logging.basicConfig(level=logging.INFO if verbose else logging.CRITICAL,
                        format="%(levelname)-7s %(name)s: %(message)s")
    project_path = str(Path(project).resolve())
    if project_path not in sys.path:
        sys.path.insert(0, project_path)
    specs = _resolve_targets(target, project)

    def show(step: Step) -> None:
        lines = step.detail.splitlines() or [""]
        mark = "ok  " if step.passed else "FAIL"
        first = lines[0] if not step.passed else lines[0][:100]  # a failure is shown whole
        typer.echo(f"{mark}  {step.duration_s * 1000:8.1f} ms  {step.plugin:16}  {step.name:44}  {first}")
        if not step.passed:
            for line in lines[1:40]:
                typer.echo(f"{'':>10}{line}")

    typer.echo(f"{'':4}  {'TIME':>11}  {'PLUGIN':16}  {'STEP':44}  DETAIL")
    failed = total = 0
    for spec in specs:
        steps = run_plugin_test(spec, plugin_settings(spec), isolated=isolated, report=show)
        total += len(steps)
        failed += sum(not step.passed for step in steps)
    where = "in isolated hosts" if isolated else "in this process"
    typer.echo(f"{len(specs)} plugin(s) tested {where}: {total - failed} of {total} steps passed")
    if failed:
        raise typer.Exit(1)


@plugin_app.command("scaffold")
@friendly_errors
def scaffold_plugin(
    name: str = typer.Argument(..., help="The new plugin's name, e.g. my_store."),
    capability: List[str] = typer.Option(
        [], "--capability", "-c", help="queue_backend, result_backend, monitoring or lifecycle_hook (repeatable)."
    ),
    directory: str = typer.Option("plugins", "--dir", "-d", help="Where to write NAME.py."),
) -> None:
    """Write a working plugin skeleton (it passes `nuvom plugin test --isolated` as written)."""
    from nuvom.plugins.scaffold import SCAFFOLD_CAPABILITIES, check_plugin_name, render_plugin, toml_snippet

    problem = check_plugin_name(name)
    if problem:
        raise CommandError(problem)
    unknown = [c for c in capability if c not in SCAFFOLD_CAPABILITIES]
    if unknown:
        raise CommandError(f"unknown capability {unknown[0]!r}; use one of: {', '.join(SCAFFOLD_CAPABILITIES)}")
    path = Path(directory) / f"{name}.py"
    if path.exists():
        raise CommandError(f"{path} already exists; choose another name or --dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    relative = path.as_posix()
    path.write_text(render_plugin(name, list(capability), relative), encoding="utf-8")
    cls = "".join(part.title() for part in name.split("_")) + "Plugin"
    snippet = toml_snippet(name, list(capability), f"{relative}:{cls}")
    config = Path(".nuvom_plugins.toml")
    typer.echo(f"wrote {path}")
    if config.exists():
        typer.echo(f"add to {config}:\n\n{snippet}")
    else:
        config.write_text(snippet, encoding="utf-8")
        typer.echo(f"wrote {config}")
    typer.echo(f"next: nuvom plugin test {relative} --isolated")
