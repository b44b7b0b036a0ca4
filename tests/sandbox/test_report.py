"""Layer: a frozen record that crosses the wire as a plain dict."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest

from nuvom.sandbox import Layer


def test_layer_round_trips_through_msgpack():
    layer = Layer("landlock_fs", True, "ABI 7: read beneath 3 paths")
    wire = msgpack.packb(layer.to_dict())
    assert Layer.from_dict(msgpack.unpackb(wire)) == layer


def test_layer_is_frozen():
    layer = Layer("seccomp", False, "libseccomp not found")
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.enforced = True  # type: ignore[misc]


@pytest.mark.parametrize("data", [
    {"name": "x", "enforced": 1, "detail": ""},
    {"name": "x", "enforced": True},
    {"name": None, "enforced": False, "detail": ""},
    ["x", True, ""],
])
def test_from_dict_rejects_malformed_data(data):
    with pytest.raises(ValueError):
        Layer.from_dict(data)
