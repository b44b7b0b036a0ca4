"""Tasks the worker tests run; each records its executions in a file (O_APPEND lines)."""

import os
import time

from nuvom.task import task


def record(log_path, text):
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{text}\n".encode())
    finally:
        os.close(fd)


@task
def logged(log_path, item, seconds=0.0):
    """Record `item`, optionally take `seconds`, return item * 2."""
    record(log_path, f"start {item}")
    time.sleep(seconds)
    record(log_path, f"done {item}")
    return item * 2


@task(retries=2, retry_delay_secs=0.3)
def fails_twice(log_path):
    record(log_path, f"attempt {time.time()}")
    with open(log_path) as log:
        attempts = sum(1 for line in log if line.startswith("attempt"))
    if attempts < 3:
        raise ValueError(f"attempt {attempts} fails")
    return attempts


@task(timeout_secs=0.3)
def spins_forever():
    while True:
        pass


@task(timeout_secs=0.3, timeout_policy="retry", retries=1)
def spins_then_retries():
    while True:
        pass


@task
def returns_object():
    return object()


@task
def returns_none():
    return None
