"""Finding plugins (toml and entry points), validating them before anything runs, and `inprocess`."""

from __future__ import annotations

import sys
import textwrap

import pytest

from nuvom.plugins.discovery import load_plugin_specs
from nuvom.plugins.manager import PluginManager
from nuvom.plugins.policy import PluginConfigError
from nuvom.plugins.registry import REGISTRY

PLUGIN_SOURCE = '''
from nuvom.plugins.contracts import Plugin
from nuvom.plugins.registry import register_queue_backend
from nuvom.queue_backends.memory import MemoryJobQueue

class {cls}(Plugin):
    name = "{name}"
    provides = ["queue_backend"]
    api_version = "{version}"

    def start(self, settings):
        if settings.get("fail"):
            raise RuntimeError("asked to fail")
        register_queue_backend("{name}_queue", MemoryJobQueue)

    def stop(self):
        open("{name}.stopped", "w").close()
'''


def write_plugin(directory, module: str, cls: str, name: str, version: str = "1.0") -> None:
    (directory / f"{module}.py").write_text(PLUGIN_SOURCE.format(cls=cls, name=name, version=version))


def problems_for(tmp_path, toml: str) -> str:
    (tmp_path / ".nuvom_plugins.toml").write_text(textwrap.dedent(toml))
    with pytest.raises(PluginConfigError) as raised:
        load_plugin_specs(tmp_path, entry_points=False)
    return str(raised.value)


def test_every_configuration_problem_is_reported_at_once_with_the_fix(tmp_path):
    write_plugin(tmp_path, "one", "One", "same")
    write_plugin(tmp_path, "two", "Two", "same")
    write_plugin(tmp_path, "future", "Future", "future", version="2.0")
    message = problems_for(tmp_path, """
        [plugins]
        queue_backend = ["one:One", "two:Two", "future:Future", "nowhere:Gone", "one:Missing", "no-colon"]
        teleporter = ["one:One"]
        [plugin.same]
        start_timeout = "soon"
        colour = "blue"
        [plugin.ghost]
        settings = {}
    """)
    lines = message.splitlines()
    expected = [
        "plugin name 'same' is used by both one:One and two:Two; rename one",
        "plugin 'future:Future': api_version '2.0' is incompatible with Nuvom's plugin API 1.x",
        "plugin 'nowhere:Gone': module 'nowhere' not found",
        "defines no class 'Missing'",
        "plugin 'no-colon': expected 'module:Class' or 'path/file.py:Class'",
        "[plugins] 'teleporter' is not a capability; use one of: queue_backend, result_backend",
        "plugin 'same': start_timeout must be a number >= 0, got 'soon'",
        "plugin 'same': unknown key 'colour'; valid keys: settings, isolation",
        "[plugin.ghost] configures a plugin that is not listed under [plugins]",
    ]
    for fragment in expected:
        assert any(fragment in line for line in lines), f"{fragment!r} not in:\n{message}"


def test_a_broken_toml_file_names_the_file_and_the_line(tmp_path):
    (tmp_path / ".nuvom_plugins.toml").write_text("[plugins\nqueue_backend = 1\n")
    with pytest.raises(PluginConfigError, match=r"\.nuvom_plugins\.toml: .*line 1"):
        load_plugin_specs(tmp_path, entry_points=False)


@pytest.fixture
def installed_package(tmp_path, monkeypatch):
    """A real installed distribution (a dist-info on sys.path) with a `nuvom` entry point."""
    site = tmp_path / "site"
    site.mkdir()
    write_plugin(site, "entry_plugin", "EntryPlugin", "from_entry_point")
    dist = site / "nuvom_entry_example-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nuvom-entry-example\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[nuvom]\nqueue_backend = entry_plugin:EntryPlugin\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_an_installed_packages_entry_point_is_discovered_and_runs_in_a_host(installed_package, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    specs = load_plugin_specs(project)
    spec = next(s for s in specs if s.name == "from_entry_point")
    assert spec.capabilities == ("queue_backend",) and spec.source == "entry point 'queue_backend'"
    assert "entry_plugin" not in sys.modules, "discovery imported the plugin"
    manager = PluginManager([spec])
    try:
        manager.start_all()
        supervisor = manager.supervisors["from_entry_point"]
        assert supervisor.state == "running", supervisor.last_failure
        assert supervisor.registered == {"queue_backend": ["from_entry_point_queue"]}
        queue = REGISTRY.get("queue_backend", "from_entry_point_queue")()
        assert queue.qsize() == 0
    finally:
        manager.stop_all()


def test_an_inprocess_plugin_runs_in_this_process_the_upstream_way(project, tmp_path, monkeypatch):
    write_plugin(tmp_path, "trusted", "Trusted", "trusted")
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = project("""
        [plugins]
        queue_backend = ["trusted:Trusted"]
        [plugin.trusted]
        isolation = "inprocess"
    """)
    manager.start_all()
    assert "trusted" in manager.inprocess and not manager.supervisors, "an in-process plugin got a host"
    from nuvom.queue_backends.memory import MemoryJobQueue

    assert REGISTRY.get("queue_backend", "trusted_queue") is MemoryJobQueue  # the class itself, no stub
    assert manager.statuses()["trusted"]["state"] == "running"
    manager.stop_all()
    assert (tmp_path / "trusted.stopped").exists(), "stop() of the in-process plugin did not run"


def test_an_inprocess_plugin_that_fails_to_start_is_recorded_not_raised(project, tmp_path, monkeypatch, caplog):
    write_plugin(tmp_path, "fragile", "Fragile", "fragile")
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = project("""
        [plugins]
        queue_backend = ["fragile:Fragile"]
        [plugin.fragile]
        isolation = "inprocess"
        settings = { fail = true }
    """)
    manager.start_all()
    status = manager.statuses()["fragile"]
    assert status["state"] == "failed"
    assert "failed to start: RuntimeError: asked to fail" in status["last_failure"]["reason"]
    assert "plugin 'fragile' (in process) failed to start" in caplog.text


def test_a_producer_starts_only_the_plugin_that_registers_the_backend_it_asks_for(project, tmp_path):
    manager = project(f"""
        [plugins]
        queue_backend = ["examples.plugins.sqlite_queue:MyPlugin", "examples.plugins.misbehaving.plugins:BadHang"]
        [plugin.my_queue]
        settings = {{ path = "{tmp_path}/q.db" }}
        write_paths = ["{tmp_path}"]
        [plugin.bad_hang]
        start_timeout = 1
    """)
    manager.start_providing("queue_backend", "my_custom_queue")
    assert set(manager.supervisors) == {"my_queue"}, "a producer started plugins it does not need"
    assert manager.supervisors["my_queue"].state == "running"
    manager.start_providing("queue_backend", "computed_somewhere")  # nobody registers it literally: try them all
    assert set(manager.supervisors) == {"my_queue", "bad_hang"}


ACK_COUNTING = '''
from nuvom.plugins.contracts import Plugin
from nuvom.plugins.registry import register_queue_backend
from nuvom.queue_backends.memory import MemoryJobQueue

ACKED = []

class AckCountingQueue(MemoryJobQueue):
    def ack(self, jobs):
        ACKED.extend(job.id for job in jobs)

    def qsize(self):  # for the test: how many jobs were acked, and whether all were real jobs
        return len(ACKED) if all(isinstance(i, str) and len(i) == 36 for i in ACKED) else -1

class AckCounting(Plugin):
    name = "ack_counting"
    provides = ["queue_backend"]

    def start(self, settings):
        register_queue_backend("ack_counting", AckCountingQueue)
'''


def test_acks_reach_the_backend_whether_or_not_this_host_handed_the_jobs_out(project, tmp_path):
    from nuvom.job import Job

    (tmp_path / "ack_counting.py").write_text(ACK_COUNTING)
    manager = project("""
        [plugins]
        queue_backend = ["ack_counting:AckCounting"]
    """)
    manager.start_all()
    queue = REGISTRY.get("queue_backend", "ack_counting")()
    queue.enqueue_many([Job("t") for _ in range(3)])
    taken = queue.pop_batch(3, 1)
    queue.ack(taken)  # the host handed these out: ids are enough
    assert queue.qsize() == 3
    strangers = [Job("t"), Job("t")]  # e.g. taken before the host restarted
    queue.ack(strangers)
    assert queue.qsize() == 5, "jobs the host did not hand out were not acked"


METRICS_PLUGIN = '''
from nuvom.plugins.contracts import Plugin
from nuvom.plugins.registry import register_metrics_provider

class Metrics(Plugin):
    name = "metrics_here"
    provides = ["monitoring"]

    def start(self, settings):
        register_metrics_provider("prometheus_here", object())
'''


def test_a_capability_that_cannot_cross_to_the_worker_is_reported_not_dropped(project, tmp_path, caplog):
    (tmp_path / "metrics_here.py").write_text(METRICS_PLUGIN)
    manager = project("""
        [plugins]
        monitoring = ["metrics_here:Metrics"]
    """)
    manager.start_all()
    assert manager.supervisors["metrics_here"].registered == {"metrics_provider": ["prometheus_here"]}
    assert "plugin metrics_here registered metrics provider 'prometheus_here' in its host" in caplog.text
    assert 'use isolation = "inprocess" for it' in caplog.text
