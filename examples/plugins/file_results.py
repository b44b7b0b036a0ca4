"""A result backend plugin, duck-typed (no Plugin base class) with `start(settings, **extras)`.

Outcomes go to the SQLite file `settings["path"]`, so any process that loads the
plugin reads the same results. `stop()` writes `settings["stop_marker"]` (when
set), so a test can see that the worker's shutdown really called it.
"""

from pathlib import Path

from nuvom.result_backends.sqlite import SQLiteResultBackend

CONFIG = {"path": "plugin_results.db", "stop_marker": None}


class FileResults(SQLiteResultBackend):
    def __init__(self):
        super().__init__(CONFIG["path"])


class ResultsPlugin:
    api_version = "1.0"
    name = "file_results"
    provides = ["result_backend"]

    def start(self, settings, **extras):
        from nuvom.plugins.registry import register_result_backend

        CONFIG["path"] = settings.get("path", CONFIG["path"])
        CONFIG["stop_marker"] = settings.get("stop_marker")
        register_result_backend("file_results", FileResults)

    def stop(self):
        if CONFIG["stop_marker"]:
            Path(CONFIG["stop_marker"]).write_text("stopped")
