"""One plugin per misbehaviour. `settings["when"]` is "start" (default) or "call".

Each registers a queue backend named after itself; with when="call" the backend's
`qsize()` misbehaves instead of `start()`.
"""

import ctypes
import os
import sys
import threading

from nuvom.plugins.contracts import Plugin
from nuvom.queue_backends.memory import MemoryJobQueue


def raise_error():
    raise RuntimeError("this plugin raises on purpose")


def hang():
    threading.Event().wait()


def hold_the_gil():
    sum(range(10**12))  # one C call that never releases the GIL


def segfault():
    ctypes.string_at(0)


def exit_hard():
    os._exit(3)


def print_megabytes():
    for _ in range(64):
        sys.stdout.write("x" * 1024 * 1024 + "\n")
    sys.stdout.flush()
    raise RuntimeError("printed 64 MiB, then failed")


def exit_politely():
    sys.exit(0)  # looks like success to a careless runner; Nuvom reports it as a failure


def import_missing():
    import nuvom_dependency_that_does_not_exist  # noqa: F401


MISBEHAVIOURS = {
    "raise": raise_error, "hang": hang, "gil": hold_the_gil, "segfault": segfault,
    "exit": exit_hard, "sysexit": exit_politely, "print": print_megabytes, "missing": import_missing,
}


def plugin_class(kind):
    action = MISBEHAVIOURS[kind]

    class Queue(MemoryJobQueue):
        def qsize(self):
            action()
            return 0

    class Misbehaving(Plugin):
        name = f"bad_{kind}"
        provides = ["queue_backend"]

        def start(self, settings):
            from nuvom.plugins.registry import register_queue_backend

            if settings.get("when", "start") == "start":
                action()
            register_queue_backend(f"bad_{kind}", Queue)

    Misbehaving.__name__ = Misbehaving.__qualname__ = f"Bad{kind.title()}"
    return Misbehaving


class BadRaise(plugin_class("raise")):
    name = "bad_raise"


class BadHang(plugin_class("hang")):
    name = "bad_hang"


class BadGil(plugin_class("gil")):
    name = "bad_gil"


class BadSegfault(plugin_class("segfault")):
    name = "bad_segfault"


class BadExit(plugin_class("exit")):
    name = "bad_exit"


class BadSysexit(plugin_class("sysexit")):
    name = "bad_sysexit"


class BadPrint(plugin_class("print")):
    name = "bad_print"


class BadMissing(plugin_class("missing")):
    name = "bad_missing"
