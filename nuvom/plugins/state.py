"""The running worker's plugin states, shared with `nuvom plugin list` / `inspect`.

The worker writes `.nuvom/plugins.json` in its project directory whenever a plugin
changes state (atomically: a temporary file renamed over the old one, mode 0600).
The CLI reads it and shows the live state only while the worker that wrote it is
alive; otherwise the file is a record of the last run (its failures stay useful).
Settings are never written to the file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

STATE_FILE = Path(".nuvom") / "plugins.json"
SECRET_KEY = re.compile(r"pass|secret|token|key|credential|auth|private|dsn|cookie|session", re.IGNORECASE)
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?P<tail>@)", re.IGNORECASE)
MASK = "********"


def mask_secrets(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of `settings` safe to print: secret-looking keys and URL passwords masked."""
    masked: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            masked[key] = mask_secrets(value)
        elif SECRET_KEY.search(str(key)) and value not in (None, "", False):
            masked[key] = MASK
        elif isinstance(value, str):
            masked[key] = URL_PASSWORD.sub(lambda m: m["head"] + MASK + m["tail"], value)
        else:
            masked[key] = value
    return masked


def process_alive(pid: int) -> bool:
    """True when `pid` is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][:1] != "Z"
    except OSError:
        return True  # no /proc (not Linux): kill(0) said it exists


class StateFile:
    """Writes a snapshot of every plugin's state; `write` is safe to call from any thread."""

    def __init__(self, project_dir: str | os.PathLike) -> None:
        self.path = Path(project_dir) / STATE_FILE
        self._lock = threading.Lock()

    def write(self, plugins: dict[str, dict[str, Any]]) -> None:
        snapshot = {"worker_pid": os.getpid(), "written_at": time.time(), "plugins": plugins}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".plugins.", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    json.dump(snapshot, file, indent=1, default=str)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise


def read_state(project_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The last snapshot, with `live` telling whether its worker is still running; None if absent."""
    path = Path(project_dir) / STATE_FILE
    try:
        snapshot = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("plugins"), dict):
        return None
    pid = snapshot.get("worker_pid")
    snapshot["live"] = isinstance(pid, int) and process_alive(pid)
    return snapshot
