"""Settings from `NUVOM_*` environment variables and a `.env` file.

Every field of `Settings` is read from `NUVOM_<FIELD>` (upper case); a `.env` file
in the working directory supplies values the environment does not (the environment
wins). A value of the wrong type is a `ConfigError` naming the variable and what it
should be, raised when settings are first read.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "NUVOM_"


class ConfigError(ValueError):
    """A setting has a value Nuvom cannot use."""


def _default_workers() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


@dataclass(frozen=True)
class Settings:
    """Nuvom's configuration; see the README for what each field does."""

    queue_backend: str = "sqlite"
    result_backend: str = "sqlite"
    max_workers: int = dataclasses.field(default_factory=_default_workers)
    batch_size: int = 32
    prefetch_batches: int = 4  # batches claimed beyond the running jobs (as Celery's prefetch multiplier)
    job_timeout_secs: float | None = None
    timeout_policy: str = "fail"
    retry_delay_secs: float = 0.0
    sqlite_db_path: str = ".nuvom/result.db"
    sqlite_queue_path: str = ".nuvom/queue.db"
    log_level: str = "INFO"
    prometheus_port: int = 9150
    lease_secs: float = 60.0
    max_deliveries: int = 5
    shutdown_grace_secs: float = 10.0
    plugins_file: str = ".nuvom_plugins.toml"
    tasks: str = ""  # comma-separated task modules the worker imports

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of every setting (what plugins receive as global settings)."""
        return dataclasses.asdict(self)


_CHOICES = {
    "timeout_policy": ("fail", "retry", "ignore"),
    "log_level": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
}
_POSITIVE = {"max_workers", "batch_size", "prefetch_batches", "lease_secs", "max_deliveries"}


def load_dotenv(path: str | os.PathLike) -> dict[str, str]:
    """Parse a `.env` file: `KEY=VALUE` lines, `#` comments, optional `export` and quotes."""
    values: dict[str, str] = {}
    file = Path(path)
    if not file.is_file():
        return values
    for number, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{file}:{number}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def _convert(name: str, field: dataclasses.Field, text: str) -> Any:
    variable = ENV_PREFIX + name.upper()
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    optional = "None" in kind
    if optional and text.strip().lower() in ("", "none", "null"):
        return None
    try:
        if kind.startswith("int"):
            value: Any = int(text)
        elif kind.startswith("float"):
            value = float(text)
        else:
            value = text.strip()
    except ValueError:
        expected = "an integer" if kind.startswith("int") else "a number"
        raise ConfigError(f"{variable}={text!r} is not {expected}") from None
    if name in _CHOICES:
        value = value.upper() if name == "log_level" else value.lower()
        if value not in _CHOICES[name]:
            raise ConfigError(f"{variable}={text!r} is not one of: {', '.join(_CHOICES[name])}")
    if name in _POSITIVE and value <= 0:
        raise ConfigError(f"{variable}={text!r} must be greater than 0")
    if name in ("queue_backend", "result_backend"):
        value = value.lower()
    return value


def settings_from(environ: Mapping[str, str], dotenv: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from an environment mapping, falling back to `.env` values."""
    merged = {**(dotenv or {}), **environ}
    values = {}
    for field in dataclasses.fields(Settings):
        text = merged.get(ENV_PREFIX + field.name.upper())
        if text is not None:
            values[field.name] = _convert(field.name, field, text)
    return Settings(**values)


_cache: Settings | None = None
_lock = threading.Lock()


def get_settings() -> Settings:
    """The process's settings, read once from the environment and `./.env`."""
    global _cache
    with _lock:
        if _cache is None:
            _cache = settings_from(os.environ, load_dotenv(".env"))
        return _cache


def reload_settings() -> Settings:
    """Forget the cached settings and read them again."""
    global _cache
    with _lock:
        _cache = None
    return get_settings()
