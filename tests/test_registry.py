"""The backend registry: built-ins, case-insensitive names, overrides, resolvers, clear errors."""

import pytest

from nuvom.plugins.registry import (
    QUEUE_BACKEND,
    DuplicateRegistrationError,
    Registry,
    UnknownBackendError,
    get_queue_backend_cls,
    get_result_backend_cls,
)
from nuvom.queue_backends.memory import MemoryJobQueue
from nuvom.result_backends.sqlite import SQLiteResultBackend


def test_builtins_are_registered_case_insensitively():
    assert get_queue_backend_cls("MEMORY") is MemoryJobQueue
    assert get_result_backend_cls(" sqlite ") is SQLiteResultBackend


def test_unknown_name_lists_the_known_ones_and_the_fix():
    with pytest.raises(UnknownBackendError) as caught:
        get_queue_backend_cls("redis")
    assert "unknown queue backend 'redis'; known: memory, sqlite" in str(caught.value)
    assert "NUVOM_QUEUE_BACKEND" in str(caught.value)


def test_a_second_registration_needs_override():
    registry = Registry()
    registry.register(QUEUE_BACKEND, "mine", MemoryJobQueue)
    registry.register(QUEUE_BACKEND, "MINE", MemoryJobQueue)  # the same object again is fine
    with pytest.raises(DuplicateRegistrationError, match="already registered"):
        registry.register(QUEUE_BACKEND, "mine", dict)
    registry.register(QUEUE_BACKEND, "mine", dict, override=True)
    assert registry.get(QUEUE_BACKEND, "Mine") is dict


def test_resolvers_are_asked_for_unknown_names_only():
    registry = Registry()
    registry.register(QUEUE_BACKEND, "known", MemoryJobQueue)
    asked = []

    def resolver(capability, name):
        asked.append((capability, name))
        return dict if name == "lazy" else None

    registry.add_resolver(resolver)
    assert registry.get(QUEUE_BACKEND, "known") is MemoryJobQueue
    assert registry.get(QUEUE_BACKEND, "LAZY") is dict
    with pytest.raises(UnknownBackendError):
        registry.get(QUEUE_BACKEND, "nobody")
    assert asked == [(QUEUE_BACKEND, "lazy"), (QUEUE_BACKEND, "nobody")]
