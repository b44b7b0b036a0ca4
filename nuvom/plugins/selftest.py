"""`nuvom plugin test`: load a plugin, start it, check what it registered, stop it.

Each step is timed and reported as a `Step`. With `isolated=True` the plugin runs in
a real host exactly as under a worker (same supervisor, same stubs), so a plugin that
crashes, hangs or breaks the protocol fails a step with the reason instead of taking
the command down. Registered queue and result backends are run through the backend
contract suite; a queue that already holds jobs is refused (the checks would consume
them) rather than emptied.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from nuvom.plugins.contracts import call_start, check_plugin_class
from nuvom.plugins.discovery import PluginSpec
from nuvom.plugins.loader import load_plugin_class
from nuvom.plugins.registry import REGISTRY
from nuvom.testing.contract import Check, queue_contract_checks, result_contract_checks

CONTRACTS: dict[str, Callable[[], list[Check]]] = {
    "queue_backend": queue_contract_checks,
    "result_backend": result_contract_checks,
}


@dataclass(frozen=True)
class Step:
    plugin: str
    name: str
    passed: bool
    duration_s: float
    detail: str = ""


class _Steps:
    """Collects timed steps; `run` turns any exception of the step into a failed Step."""

    def __init__(self, plugin: str, report: Callable[[Step], None]) -> None:
        self.plugin = plugin
        self.report = report
        self.steps: list[Step] = []

    def add(self, name: str, passed: bool, duration_s: float, detail: str = "") -> Step:
        step = Step(self.plugin, name, passed, duration_s, detail)
        self.steps.append(step)
        self.report(step)
        return step

    def run(self, name: str, action: Callable[[], Any]) -> tuple[bool, Any]:
        started = time.perf_counter()
        try:
            value = action()
        except Exception as error:
            message = str(error) if isinstance(error, AssertionError) else f"{type(error).__name__}: {error}"
            self.add(name, False, time.perf_counter() - started, message)
            return False, None
        detail = value if isinstance(value, str) else ""
        self.add(name, True, time.perf_counter() - started, detail)
        return True, value


def run_plugin_test(
    spec: PluginSpec, settings: dict[str, Any], *, isolated: bool, report: Callable[[Step], None] = lambda step: None
) -> list[Step]:
    """Every step of testing one plugin; `report` sees each step as soon as it is done."""
    steps = _Steps(spec.name, report)
    if isolated:
        _test_isolated(spec, settings, steps)
    else:
        _test_in_process(spec, settings, steps)
    return steps.steps


def _test_isolated(spec: PluginSpec, settings: dict[str, Any], steps: _Steps) -> None:
    from nuvom.plugins.remote import STUBS
    from nuvom.plugins.supervisor import PluginError, PluginSupervisor

    spec = dataclasses.replace(spec, policy=dataclasses.replace(spec.policy, restart="never"))
    supervisor = PluginSupervisor(spec, settings)
    try:
        started = time.perf_counter()
        try:
            supervisor.start()
        except PluginError as error:
            steps.add("start in a host (load, handshake, start())", False, time.perf_counter() - started, str(error))
            _sandbox_steps(supervisor.sandbox, steps)
            return
        steps.add("start in a host (load, handshake, start())", True, time.perf_counter() - started,
                  f"pid {supervisor.pid}")
        _sandbox_steps(supervisor.sandbox, steps)
        for capability, name in _registrations(spec, supervisor.registered, steps):
            stub = STUBS.get(capability)
            if stub is not None:
                _check_contract(capability, name, lambda stub=stub, name=name: stub(supervisor, name), steps)
    finally:
        started = time.perf_counter()
        problem = supervisor.stop()
        if steps.steps and steps.steps[0].passed:
            steps.add("stop()", problem is None, time.perf_counter() - started, problem or "")


def _sandbox_steps(layers: list[dict[str, Any]], steps: _Steps) -> None:
    """One step per sandbox layer the host reported: listed, not judged (`strict` is what refuses)."""
    for layer in layers:
        state = "enforced" if layer.get("enforced") else "NOT enforced"
        steps.add(f"sandbox {layer.get('name')}", True, 0.0, f"{state}: {layer.get('detail', '')}")


def _test_in_process(spec: PluginSpec, settings: dict[str, Any], steps: _Steps) -> None:
    import sys

    handshake = spec.handshake()
    for path in reversed(handshake["import_path"]):
        if path not in sys.path:
            sys.path.insert(0, path)

    def load() -> Any:
        cls = load_plugin_class(handshake["target"])
        problems = check_plugin_class(cls)
        assert not problems, f"{spec.target} is not a Nuvom plugin: " + "; ".join(problems)
        return cls()

    loaded, plugin = steps.run("load in this process", load)
    if not loaded:
        return
    before = REGISTRY.snapshot()
    started, _ = steps.run("start()", lambda: call_start(plugin, settings))
    if not started:
        return
    after = REGISTRY.snapshot()
    registered = {
        capability: sorted(name for name, obj in entries.items() if before.get(capability, {}).get(name) is not obj)
        for capability, entries in after.items()
    }
    try:
        for capability, name in _registrations(spec, registered, steps):
            if capability in CONTRACTS:
                cls = after[capability][name]
                _check_contract(capability, name, cls, steps)
    finally:
        steps.run("stop()", plugin.stop)
        for capability, names in registered.items():
            for name in names:
                REGISTRY.unregister(capability, name)


def _registrations(spec: PluginSpec, registered: dict[str, list[str]], steps: _Steps) -> Iterator[tuple[str, str]]:
    """Each (capability, name) the plugin registered, after a step saying what it registered."""
    pairs = [(capability, name) for capability, names in sorted(registered.items()) for name in names]
    declared = [c for c in CONTRACTS if c in spec.provides and c not in registered]
    summary = ", ".join(f"{c} {n!r}" for c, n in pairs) or "nothing"
    if declared:
        steps.add("registered its backends", False, 0.0,
                  f"it provides {', '.join(declared)} but registered none in start() (registered: {summary})")
    else:
        steps.add("registered its backends", True, 0.0, summary)
    yield from pairs


def _check_contract(capability: str, name: str, make_backend: Callable[[], Any], steps: _Steps) -> None:
    """The contract suite on fresh backends of `name`; a queue must be empty to begin with."""
    label = f"{capability.replace('_', ' ')} {name!r}"
    if capability == "queue_backend":
        ok, waiting = steps.run(f"{label}: is empty", lambda: _empty_or_refuse(make_backend()))
        if not ok:
            return

        def fresh() -> Any:
            queue = make_backend()
            queue.clear()
            return queue
    else:
        fresh = make_backend
    for check in CONTRACTS[capability]():
        steps.run(f"{label}: {check.name}", lambda check=check: check.run(fresh))


def _empty_or_refuse(queue: Any) -> str:
    waiting = queue.qsize()
    assert waiting == 0, (
        f"the queue holds {waiting} jobs and the contract checks would consume them; "
        "point the plugin at an empty store to test it (e.g. NUVOM_PLUGIN_<NAME>_<SETTING>=...)"
    )
    return "0 jobs waiting"
