"""The Nuvom worker: `Worker` pulls jobs from a queue backend and records their outcomes."""

from nuvom.worker.worker import TaskModuleError, Worker, import_task_modules

__all__ = ["Worker", "TaskModuleError", "import_task_modules"]
