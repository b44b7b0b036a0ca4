"""The custom queue backend of Nuvom's plugin docs, made real: jobs in a SQLite file.

Written exactly in the docs' style (`dequeue(self, timeout=None)`, `pop_batch(self, n)`,
no acknowledgement step): it runs unchanged in process or isolated in a plugin host.
The file comes from `settings["path"]` (set it in `[plugin.my_queue].settings`).
"""

import sqlite3
import threading
import time

import msgpack

from nuvom.job import Job
from nuvom.plugins.contracts import Plugin
from nuvom.queue_backends.base import BaseJobQueue

DB_PATH = {"path": "my_queue.db"}


class MyQueue(BaseJobQueue):
    def __init__(self):
        self.db = sqlite3.connect(DB_PATH["path"], check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB)")
        self.lock = threading.Lock()

    def enqueue(self, job):
        with self.lock:
            self.db.execute("INSERT INTO jobs (body) VALUES (?)", (msgpack.packb(job.to_dict()),))

    def dequeue(self, timeout=None):
        jobs = self._take(1, timeout)
        return jobs[0] if jobs else None

    def pop_batch(self, n):
        return self._take(n, 0.2)

    def _take(self, n, timeout):
        deadline = time.monotonic() + (timeout or 0)
        while True:
            with self.lock:
                self.db.execute("BEGIN IMMEDIATE")
                rows = self.db.execute("SELECT seq, body FROM jobs ORDER BY seq LIMIT ?", (n,)).fetchall()
                if rows:
                    self.db.execute(f"DELETE FROM jobs WHERE seq IN ({','.join('?' * len(rows))})", [r[0] for r in rows])
                self.db.execute("COMMIT")
            if rows or time.monotonic() >= deadline:
                return [Job.from_dict(msgpack.unpackb(body)) for _, body in rows]
            time.sleep(0.01)

    def qsize(self):
        return self.db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def clear(self):
        with self.lock:
            return self.db.execute("DELETE FROM jobs").rowcount


class MyPlugin(Plugin):
    name = "my_queue"
    provides = ["queue_backend"]

    def start(self, settings):
        from nuvom.plugins.registry import register_queue_backend

        DB_PATH["path"] = settings.get("path", DB_PATH["path"])
        register_queue_backend("my_custom_queue", MyQueue)

    def stop(self):
        pass
