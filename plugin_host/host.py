"""Load one plugin and serve its backends over the channel.

Methods served to the worker:

- `hello(spec)`: enter the project directory, put the spec's import path on sys.path, import `module:Class`, check
  it is a plugin, instantiate it; returns its name, provides, api_version and pid.
- `start(settings)`: call the plugin's `start()`; returns what it registered
  (`{capability: [names]}`). Later registrations are sent as `registered` notifications.
- `instantiate(capability, name)`: create the registered backend class with no
  arguments, as upstream Nuvom does; returns a handle.
- `invoke(handle, method, args, kwargs)`: call one method of the backend contract on it.
- `ping()`, `stop()`.
"""

from __future__ import annotations

import collections
import functools
import itertools
import os
import sys
import threading
from typing import Any, Callable

from nuvom.ipc import Connection
from nuvom.ipc.codec import JobBatch
from nuvom.job import Job
from nuvom.plugins.contracts import API_VERSION, call_start, check_plugin_class
from nuvom.plugins.loader import load_plugin_class
from nuvom.queue_backends.base import call_dequeue, call_pop_batch
from nuvom.sandbox.report import missing_layers

PROTOCOL_VERSION = 1
TAKEN_JOBS_KEPT = 100_000  # jobs handed out and not yet acked, remembered so ack/renew can name them by id
ALLOWED_METHODS = {
    "queue_backend": {
        "enqueue", "enqueue_many", "dequeue", "pop_batch", "qsize", "clear", "ack", "nack", "renew",
        "ack_ids", "renew_ids",
    },
    "result_backend": {"set_result", "get_result", "set_error", "get_error", "get_full", "list_jobs", "store_many"},
}


class HostError(Exception):
    """A request the host refuses (bad handle, method outside the contract, ...)."""


def contained(method: Callable[..., Any], memory_mb: int | None = None) -> Callable[..., Any]:
    """A served call where the plugin's sys.exit() or exhausted memory fails that call, in words.

    Without this, SystemExit would end a handler thread without an answer, and a
    MemoryError would arrive with an empty message.
    """

    @functools.wraps(method)
    def wrapper(*args: Any) -> Any:
        try:
            return method(*args)
        except SystemExit as exit_:
            raise HostError(f"the plugin called sys.exit({exit_.code!r}) during {method.__name__}()") from None
        except MemoryError:
            limit = f"its memory limit of {memory_mb} MiB (memory_mb)" if memory_mb else "memory"
            raise HostError(f"the plugin ran out of {limit} during {method.__name__}()") from None

    return wrapper


class PluginHost:
    """State of this process: the plugin, what it registered, and live backend objects."""

    def __init__(self, connection: Connection, sandbox: list[dict] | None = None, strict: bool = False) -> None:
        self.connection = connection
        self.sandbox = sandbox or []
        self.strict = strict
        self.plugin: Any = None
        self.registered: dict[str, dict[str, Any]] = {}
        self.objects: dict[int, tuple[str, Any]] = {}
        self.taken: dict[int, collections.OrderedDict[str, Job]] = {}  # per queue handle, oldest first
        self.handles = itertools.count(1)
        self.started = False
        self._capture_registrations()

    def _capture_registrations(self) -> None:
        """Record every `register_*` the plugin makes, and tell the worker about late ones."""
        from nuvom.plugins.registry import REGISTRY

        original = REGISTRY.register

        def register(capability: str, name: str, obj: Any, *, override: bool = False) -> None:
            original(capability, name, obj, override=override)
            key = name.strip().lower()
            self.registered.setdefault(capability, {})[key] = obj
            if self.started:
                self.connection.notify("registered", capability, key)

        REGISTRY.register = register

    def hello(self, spec: dict) -> dict:
        missing = missing_layers(self.sandbox)
        if self.strict and missing:
            raise HostError(
                "strict = true and the sandbox is not fully enforced, so the plugin was not loaded: "
                + "; ".join(f"{layer['name']}: {layer['detail']}" for layer in missing)
            )
        if spec.get("cwd"):
            os.chdir(spec["cwd"])  # relative paths in the plugin's settings mean the project's
        for path in reversed(spec.get("import_path", [])):
            if path not in sys.path:
                sys.path.insert(0, path)
        cls = load_plugin_class(spec["target"])
        problems = check_plugin_class(cls)
        if problems:
            raise HostError(f"{spec['target']} is not a Nuvom plugin: " + "; ".join(problems))
        self.plugin = cls()
        return {
            "protocol": PROTOCOL_VERSION,
            "api_version": API_VERSION,
            "name": cls.name,
            "provides": list(cls.provides),
            "plugin_api_version": str(getattr(cls, "api_version", API_VERSION)),
            "pid": os.getpid(),
            "sandbox": self.sandbox,
        }

    def start(self, settings: dict) -> dict:
        if self.plugin is None:
            raise HostError("start() before hello()")
        call_start(self.plugin, settings)
        self.started = True
        return {capability: sorted(names) for capability, names in self.registered.items()}

    def instantiate(self, capability: str, name: str) -> int:
        cls = self.registered.get(capability, {}).get(name.strip().lower())
        if cls is None:
            raise HostError(f"this plugin registered no {capability} named {name!r}")
        handle = next(self.handles)
        self.objects[handle] = (capability, cls() if isinstance(cls, type) else cls)
        return handle

    def invoke(self, handle: int, method: str, args: list, kwargs: dict) -> Any:
        try:
            capability, obj = self.objects[handle]
        except KeyError:
            raise HostError(f"no backend object with handle {handle}") from None
        if method not in ALLOWED_METHODS.get(capability, ()):
            raise HostError(f"{method!r} is not a method of the {capability} contract")
        if method == "pop_batch":
            return JobBatch(self._remember(handle, call_pop_batch(obj, *args)))
        if method == "dequeue":
            job = call_dequeue(obj, *args)
            return self._remember(handle, [job])[0] if job is not None else None
        if method in ("ack_ids", "renew_ids"):
            return self._by_ids(handle, obj, method[:-4], *args)
        if method in ("ack", "nack"):
            self._forget(handle, args[0] if args else [])
        return getattr(obj, method)(*args, **kwargs)

    def _remember(self, handle: int, jobs: list[Job]) -> list[Job]:
        taken = self.taken.setdefault(handle, collections.OrderedDict())
        for job in jobs:
            taken[job.id] = job
        while len(taken) > TAKEN_JOBS_KEPT:
            taken.popitem(last=False)  # the worker then acks it by value; nothing is lost
        return jobs

    def _forget(self, handle: int, jobs: list[Any]) -> None:
        taken = self.taken.get(handle, {})
        for job in jobs:
            taken.pop(getattr(job, "id", None), None)

    def _by_ids(self, handle: int, obj: Any, method: str, ids: list[str]) -> list[str]:
        """ack/renew the jobs this host handed out, named by id; returns the ids it does not know."""
        taken = self.taken.get(handle, {})
        known = [taken[job_id] for job_id in ids if job_id in taken]
        if method == "ack":
            for job in known:
                del taken[job.id]
        if known:
            getattr(obj, method)(known)
        found = {job.id for job in known}
        return [job_id for job_id in ids if job_id not in found]

    def stop(self) -> None:
        if self.plugin is not None:
            self.plugin.stop()


def serve(fd: int, sandbox: list[dict] | None = None, strict: bool = False, memory_mb: int | None = None) -> None:
    """Serve the plugin until the worker closes the channel (or dies)."""
    connection = Connection.from_fd(fd, name="worker")
    host = PluginHost(connection, sandbox, strict)
    connection.register("hello", contained(host.hello, memory_mb))
    connection.register("start", contained(host.start, memory_mb))
    connection.register("instantiate", contained(host.instantiate, memory_mb))
    connection.register("invoke", contained(host.invoke, memory_mb))
    connection.register("ping", lambda: "pong", inline=True)
    connection.register("stop", contained(host.stop, memory_mb))
    done = threading.Event()
    connection.on_close(lambda reason: done.set())
    connection.start()
    done.wait()
