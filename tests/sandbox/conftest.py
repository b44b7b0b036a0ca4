"""Run a small Python child that sandboxes itself, and read back what it observed.

Every sandbox test applies layers to a fresh child process, never to pytest itself:
the child prints one JSON object as its last line of output, which `run_child` returns.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from nuvom.sandbox import Layer

PROJECT_ROOT = Path(__file__).resolve().parents[2]

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox layers")
root_only = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")

# Helpers every child gets. They are defined before the child applies any layer, so
# they work even once the child can no longer import anything.
PRELUDE = '''
import errno, json, os, sys

def attempt(action):
    """"ok" when action() returns, the errno name of an OSError, or the type name of another error."""
    try:
        action()
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))
    except Exception as error:
        return type(error).__name__
    return "ok"

def layers(values):
    return [value.to_dict() for value in values]

def done(**results):
    print(json.dumps(results), flush=True)
'''


def run_child(*code: str, pass_fds: Sequence[int] = (), env: dict[str, str] | None = None) -> dict:
    """Run the `code` parts (each dedented, after PRELUDE) in a new interpreter; returns the JSON it printed last.

    Fails the test when the child exits non-zero, showing its stderr.
    """
    child_env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    result = subprocess.run(
        [sys.executable, "-c", "\n".join([PRELUDE, *map(textwrap.dedent, code)])],
        capture_output=True, text=True, timeout=30, pass_fds=pass_fds, env=child_env,
    )
    assert result.returncode == 0, f"child exited {result.returncode}:\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    assert lines, f"child printed nothing:\n{result.stderr}"
    return json.loads(lines[-1])


def as_layers(values: list[dict]) -> dict[str, Layer]:
    """Layers from a child's JSON, by name."""
    parsed = [Layer.from_dict(value) for value in values]
    return {layer.name: layer for layer in parsed}


@pytest.fixture
def tcp_port() -> Iterator[int]:
    """A TCP server listening on 127.0.0.1 in the test process (connections wait in its backlog)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
