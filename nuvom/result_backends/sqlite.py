"""`SQLiteResultBackend`: outcomes in one SQLite file, readable from any process.

A record is a row keyed by job id, with its `full_record` stored as msgpack and
the columns `status` and `completed_at` kept apart for listing. `store_many`
writes a batch of outcomes in one transaction: the worker's writer thread uses it,
which is what makes SQLite fast enough for thousands of jobs a second.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import msgpack

from nuvom.sqlite_connections import ThreadConnections, write_transaction
from nuvom.result_backends.base import BaseResultBackend, error_info, full_record

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    job_id       TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    completed_at REAL NOT NULL,
    record       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS results_recent ON results (completed_at);
"""


class SQLiteResultBackend(BaseResultBackend):
    """Stored job outcomes in a SQLite file (WAL mode, one connection per thread)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        from nuvom.config import get_settings

        self.path = Path(path if path is not None else get_settings().sqlite_db_path)
        self._connections = ThreadConnections(self.path, _SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def set_result(self, job_id: str, func_name: str, result: Any, **details: Any) -> None:
        self.store_many([full_record(job_id, func_name, "SUCCESS", result=result, **details)])

    def set_error(self, job_id: str, func_name: str, error: Any, **details: Any) -> None:
        self.store_many([full_record(job_id, func_name, "FAILED", error=error_info(error), **details)])

    def store_many(self, records: list[dict]) -> None:
        now = time.time()
        rows = []
        for record in records:
            if record.get("completed_at") is None:
                record = {**record, "completed_at": now}
            rows.append(
                (record["job_id"], record["status"], record["completed_at"], msgpack.packb(record, use_bin_type=True))
            )
        db = self._db()
        with write_transaction(db):
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)", rows)

    def get_full(self, job_id: str) -> dict | None:
        row = self._db().execute("SELECT record FROM results WHERE job_id = ?", (job_id,)).fetchone()
        return msgpack.unpackb(row[0], raw=False) if row else None

    def list_jobs(self, limit: int | None = None) -> list[dict]:
        rows = self._db().execute(
            "SELECT record FROM results ORDER BY completed_at DESC LIMIT ?", (-1 if limit is None else limit,)
        ).fetchall()
        return [msgpack.unpackb(record, raw=False) for (record,) in rows]

    def close(self) -> None:
        self._connections.close()
