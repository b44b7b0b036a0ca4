"""`nuvom plugin scaffold`: the source of a new plugin that passes `nuvom plugin test` as written.

The generated backends keep their data in memory so they work at once; each says
where to put real storage. Names are checked so the file is valid Python.
"""

from __future__ import annotations

import keyword
import re

SCAFFOLD_CAPABILITIES = ("queue_backend", "result_backend", "monitoring", "lifecycle_hook")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_HEADER = '''"""The {name} plugin{what}.

Test it:    nuvom plugin test {path} --isolated
Configure:  list it in .nuvom_plugins.toml; settings come from [plugin.{name}].settings
"""
{stdlib}
from nuvom.plugins.contracts import Plugin
'''

_QUEUE = '''

class {cls}Queue(BaseJobQueue):
    """A FIFO of jobs. Replace the deque with your storage; keep the method signatures."""

    def __init__(self):
        self.jobs = deque()
        self.changed = threading.Condition()

    def enqueue(self, job):
        with self.changed:
            self.jobs.append(job)
            self.changed.notify()

    def dequeue(self, timeout=None):
        jobs = self.pop_batch(1, timeout)
        return jobs[0] if jobs else None

    def pop_batch(self, batch_size=1, timeout=None):
        deadline = time.monotonic() + (timeout or 0)
        with self.changed:
            while not self.jobs and self.changed.wait(max(0.0, deadline - time.monotonic())):
                pass
            return [self.jobs.popleft() for _ in range(min(batch_size, len(self.jobs)))]

    def qsize(self):
        with self.changed:
            return len(self.jobs)

    def clear(self):
        with self.changed:
            count = len(self.jobs)
            self.jobs.clear()
            return count
'''

_RESULTS = '''

class {cls}Results(BaseResultBackend):
    """Job outcomes by id. Replace the dict with your storage; keep the record shape."""

    def __init__(self):
        self.records = {{}}
        self.lock = threading.Lock()

    def set_result(self, job_id, func_name, result, **details):
        self._store(full_record(job_id, func_name, "SUCCESS", result=result, **_finished(details)))

    def set_error(self, job_id, func_name, error, **details):
        self._store(full_record(job_id, func_name, "FAILED", error=error_info(error), **_finished(details)))

    def _store(self, record):
        with self.lock:
            self.records.pop(record["job_id"], None)
            self.records[record["job_id"]] = record

    def get_full(self, job_id):
        with self.lock:
            record = self.records.get(job_id)
            return dict(record) if record else None

    def list_jobs(self, limit=None):
        with self.lock:
            newest_first = sorted(self.records.values(), key=lambda r: r["completed_at"], reverse=True)
        return newest_first if limit is None else newest_first[:limit]


def _finished(details):
    return {{**details, "completed_at": details.get("completed_at") or time.time()}}
'''

_PLUGIN = '''

class {cls}Plugin(Plugin):
    name = "{name}"
    provides = {provides}

    def start(self, settings):
        """Called once in the plugin's host; register what the plugin provides here."""
{registrations}
    def stop(self):
        """Called once at shutdown; release what start() acquired."""
'''


def check_plugin_name(name: str) -> str | None:
    """Why `name` cannot name a plugin (and a module), or None when it can."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        return f"{name!r} is not a valid plugin name: use lower-case letters, digits and _, starting with a letter"
    return None


def render_plugin(name: str, capabilities: list[str], path: str) -> str:
    """The Python source of a plugin named `name` providing `capabilities`."""
    cls = "".join(part.title() for part in name.split("_"))
    imports, bodies, registrations = [], [], []
    if "queue_backend" in capabilities:
        imports.append("from nuvom.queue_backends.base import BaseJobQueue\n")
        bodies.append(_QUEUE.format(cls=cls))
        registrations.append(f'        register_queue_backend("{name}", {cls}Queue)\n')
    if "result_backend" in capabilities:
        imports.append("from nuvom.result_backends.base import BaseResultBackend, error_info, full_record\n")
        bodies.append(_RESULTS.format(cls=cls))
        registrations.append(f'        register_result_backend("{name}", {cls}Results)\n')
    what = " (" + ", ".join(c.replace("_", " ") for c in capabilities) + ")" if capabilities else ""
    stdlib = ""
    if capabilities and set(capabilities) & {"queue_backend", "result_backend"}:
        stdlib = "\nimport threading\nimport time\n"
        if "queue_backend" in capabilities:
            stdlib += "from collections import deque\n"
    registering = [f"register_{c}" for c in ("queue_backend", "result_backend") if c in capabilities]
    if registering:
        imports.insert(0, f"from nuvom.plugins.registry import {', '.join(registering)}\n")
    source = _HEADER.format(name=name, what=what, path=path, stdlib=stdlib) + "".join(imports)
    source += "".join(bodies)
    source += _PLUGIN.format(
        cls=cls, name=name, provides="[" + ", ".join(f'"{c}"' for c in capabilities) + "]",
        registrations="".join(registrations) or "        self.settings = settings\n",
    )
    return source


def toml_snippet(name: str, capabilities: list[str], target: str) -> str:
    """The `.nuvom_plugins.toml` lines that enable the plugin."""
    lines = ["[plugins]"] + [f'{capability} = ["{target}"]' for capability in capabilities or ["lifecycle_hook"]]
    lines += ["", f"[plugin.{name}]", "settings = {}", "start_timeout = 10", 'isolation = "process"']
    return "\n".join(lines) + "\n"
