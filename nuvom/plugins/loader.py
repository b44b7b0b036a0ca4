"""Import a plugin class by its target, in the process meant to run it.

That is the plugin host for an isolated plugin, or the worker itself for an
`isolation = "inprocess"` one. Discovery never calls this: it reads sources with `ast`.
"""

from __future__ import annotations

import importlib
import os
import runpy


class PluginLoadError(Exception):
    """The target does not name a class that can be imported; the message says why."""


def load_plugin_class(target: str) -> type:
    """The object named by `module:Class` or `path/to/file.py:Class`."""
    location, _, attribute = target.rpartition(":")
    if not location or not attribute:
        raise PluginLoadError(f"plugin target {target!r} must look like 'module:Class' or 'file.py:Class'")
    if location.endswith(".py"):
        namespace = runpy.run_path(location, run_name=f"nuvom_plugin_{os.path.basename(location)[:-3]}")
        if attribute not in namespace:
            raise PluginLoadError(f"{location} defines no {attribute!r}")
        return namespace[attribute]
    module = importlib.import_module(location)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise PluginLoadError(f"module {location!r} has no attribute {attribute!r}") from None
