"""A connected pair: this test process and a real peer subprocess (tests/ipc/peer.py)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from nuvom.ipc import Connection

PEER = str(Path(__file__).with_name("peer.py"))


@pytest.fixture
def peer(processes):
    """(connection to the peer, its Popen); the peer's process group is killed at teardown."""
    ours, theirs = socket.socketpair()
    process = processes.start([sys.executable, PEER, str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    connection = Connection(ours, name="peer process").start()
    assert connection.call("pid", timeout=10) == process.pid
    yield connection, process
    connection.close()
