"""Tasks for the isolated-worker tests."""

from nuvom.task import task


@task
def double(value):
    return value * 2
