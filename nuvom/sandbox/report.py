"""What one sandbox layer enforces, as data the host can send to the worker.

Every function of this package returns `Layer` values instead of raising when the
platform refuses a layer: the caller decides whether a missing layer is fatal, and
the worker can show the user exactly what was and was not enforced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

NOT_LINUX = "not Linux"
NOT_REQUESTED = "not requested by policy"


@dataclass(frozen=True)
class Layer:
    """One sandbox layer and whether it is in force.

    `name` identifies the layer ("rlimit_data", "landlock_fs", "seccomp", ...).
    `enforced` is True only when the layer was applied and verified where possible.
    `detail` says what is enforced when `enforced` is True, and otherwise the reason it
    is not, in words: "kernel has no Landlock", "not Linux", "not permitted: EPERM",
    "libseccomp not found", "not requested by policy", ...
    """

    name: str
    enforced: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of str and bool values, safe for msgpack and JSON."""
        return {"name": self.name, "enforced": self.enforced, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layer:
        """The inverse of `to_dict`; raises ValueError when a field is missing or mistyped."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a layer is a map, not {type(data).__name__}")
        name, enforced, detail = data.get("name"), data.get("enforced"), data.get("detail")
        if not isinstance(name, str) or not isinstance(enforced, bool) or not isinstance(detail, str):
            raise ValueError(f"malformed layer: {dict(data)!r}")
        return cls(name=name, enforced=enforced, detail=detail)


def missing_layers(layers: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The reported layers (as dicts) that were asked for but are not enforced."""
    return [layer for layer in layers
            if not layer.get("enforced") and not str(layer.get("detail", "")).startswith(NOT_REQUESTED)]
