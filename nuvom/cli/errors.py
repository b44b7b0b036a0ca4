"""One-line errors for every command: Nuvom's own exceptions never print a traceback."""

from __future__ import annotations

import functools
from typing import Any, Callable

import typer

from nuvom.config import ConfigError


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from nuvom.plugins.policy import PluginConfigError
    from nuvom.plugins.registry import DuplicateRegistrationError, UnknownBackendError
    from nuvom.plugins.supervisor import PluginError
    from nuvom.task import TaskRegistrationError
    from nuvom.worker import TaskModuleError

    return (
        CommandError, ConfigError, UnknownBackendError, DuplicateRegistrationError,
        TaskModuleError, TaskRegistrationError, PluginConfigError, PluginError,
    )


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print Nuvom's errors as `error: ...` and exit 1 (2 for bad settings)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except _user_errors() as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2 if isinstance(error, ConfigError) else 1) from None

    return wrapper
