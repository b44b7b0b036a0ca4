"""A plugin whose module imports a package that is not installed (fails while loading)."""

import nuvom_dependency_that_does_not_exist  # noqa: F401

from nuvom.plugins.contracts import Plugin


class NeedsMissingPackage(Plugin):
    name = "needs_missing_package"
    provides = ["queue_backend"]
