"""The quickstart's tasks: a plain one, one that fails twice then succeeds, one that always fails."""

from pathlib import Path

from nuvom.task import task


@task
def add(a, b):
    """Add two numbers."""
    return a + b


@task(retries=2, retry_delay_secs=0.2)
def flaky(counter_file):
    """Fail on the first two attempts (counted in a file), then succeed."""
    counter = Path(counter_file)
    attempts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    if attempts < 3:
        raise ConnectionError(f"attempt {attempts}: service unavailable")
    return f"succeeded on attempt {attempts}"


@task
def divide(a, b):
    """Divide; divide(1, 0) fails and its traceback is stored."""
    return a / b
