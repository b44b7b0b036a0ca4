"""@task: decorator forms, delay/map, direct calls, name clashes, refusal of uncarriable values."""

import pytest

from nuvom.job import UnsafeValueError
from nuvom.queue import get_queue_backend
from nuvom.task import TaskRegistrationError, get_task, task


def test_bare_and_configured_decorators_and_direct_calls():
    @task
    def plain_double(x):
        return 2 * x

    @task(retries=2, retry_delay_secs=5, timeout_secs=3, timeout_policy="retry", store_result=False)
    def configured_double(x):
        return 2 * x

    assert plain_double(4) == 8 and configured_double(5) == 10
    job = configured_double.make_job([1])
    assert (job.max_retries, job.retries_left, job.retry_delay_secs, job.timeout_secs) == (2, 2, 5, 3)
    assert job.timeout_policy == "retry" and job.store_result is False
    assert get_task("plain_double") is plain_double


def test_delay_and_map_enqueue_jobs(monkeypatch):
    monkeypatch.setenv("NUVOM_QUEUE_BACKEND", "memory")
    from nuvom.config import reload_settings
    from nuvom.queue import reset_backends

    reload_settings()
    reset_backends()

    @task
    def multiply(a, b):
        return a * b

    job = multiply.delay(5, 7)
    jobs = multiply.map([(1, 2), (3, 4)])
    taken = get_queue_backend().pop_batch(10, timeout=0)
    assert [j.id for j in taken] == [job.id] + [j.id for j in jobs]
    assert taken[0].args == [5, 7] and taken[2].args == [3, 4]
    assert multiply.submit(1, 1).func_name == "multiply"


def test_an_argument_that_cannot_travel_is_refused_at_delay_time():
    @task
    def takes_anything(value):
        return value

    with pytest.raises(UnsafeValueError, match=r"task 'takes_anything'.*builtins.object"):
        takes_anything.delay(object())


def test_two_functions_with_one_name_are_refused():
    def make():
        @task
        def clashing_name():
            return 1

    make()
    make()  # the same module:qualname again (a re-import) is fine

    with pytest.raises(TaskRegistrationError, match="clashing_name"):
        def clashing_name():
            return 2

        task(clashing_name)
