"""Nuvom: a lightweight task queue whose plugins run sandboxed, each in its own host process."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from nuvom import task` without importing the task machinery for every `import nuvom`.
    if name == "task":
        from nuvom.task import task

        return task
    raise AttributeError(f"module 'nuvom' has no attribute {name!r}")
