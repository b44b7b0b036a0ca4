"""Per-thread SQLite connections and write transactions, shared by the built-in backends.

sqlite3 connections must not be shared between threads, so each thread gets its
own, opened in WAL mode (readers never block the writer) with synchronous=NORMAL
(durable across process crashes; an OS crash may lose the last transactions).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path


BUSY_TIMEOUT_SECS = 30.0


def _enable_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: when several processes open a new file at once, SQLite
    reports the contention on this switch as "database is locked" without waiting."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECS
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class ThreadConnections:
    """Lazily opens one connection to `path` per thread; `close()` closes them all."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        db = self.get()
        with write_transaction(db):
            for statement in schema.split(";"):
                if statement.strip():
                    db.execute(statement)

    def get(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECS, isolation_level=None, check_same_thread=False)
            _enable_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._lock:
                self._opened.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()


class write_transaction:
    """`with write_transaction(db):` — BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error.

    IMMEDIATE takes the write lock up front: it waits (busy timeout) for other
    writers instead of failing when a read turns into a write, and it makes a
    read-then-update claim atomic across processes.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
