"""A host's whole sandbox: what to enforce (`SandboxProfile`) and applying it in order.

The worker turns a plugin's policy into a profile and hands it to the host on its
command line (it is plain data, and holds no secrets); the host applies it to itself
at start-up, before any thread and before any plugin code, and reports every layer.
`strict` makes the host refuse to load the plugin when a requested layer is missing.

Order (see the package docstring): limits, everything the host still has to load,
the network namespace, privileges, no_new_privs, Landlock, seccomp.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Mapping

from nuvom.sandbox import capabilities, landlock, limits, namespaces, privileges, seccomp
from nuvom.sandbox._linux import is_linux
from nuvom.sandbox.report import NOT_LINUX, NOT_REQUESTED, Layer

SYSTEM_READ_PATHS = (
    "/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib",  # shared libraries of C extensions
    "/usr/share/zoneinfo", "/etc/localtime", "/etc/ld.so.cache",
    "/dev/urandom", "/dev/random", "/dev/zero", "/proc/self",
)
SYSTEM_WRITE_PATHS = ("/dev/null",)
NETWORK_READ_PATHS = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates",
                      "/etc/gai.conf", "/etc/services", "/etc/protocols")


@dataclass(frozen=True)
class SandboxProfile:
    """Everything a host enforces on itself. Defaults are the safe ones."""

    memory_mb: int | None = 512
    max_open_files: int = 256
    max_file_mb: int | None = 1024
    max_processes: int | None = None
    cpu_seconds: int | None = None
    network: bool = False
    subprocesses: bool = False
    read_paths: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    run_as: str = "nobody"  # when the worker is root: "nobody", or "root" (root without capabilities)
    environment: tuple[str, ...] = ()  # names of the variables the host received (reported, not enforced here)
    strict: bool = False
    private_tmp: str = ""  # made by the worker, which removes it; empty: the host makes one

    def to_dict(self) -> dict[str, Any]:
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SandboxProfile":
        known = {field.name for field in dataclasses.fields(cls)}
        values = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in data.items() if key in known}
        return cls(**values)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def apply_profile(profile: SandboxProfile) -> list[Layer]:
    """Apply every layer of `profile` to this process; never raises for a refused layer."""
    layers = [Layer("environment", True, "only " + ", ".join(profile.environment or ("PATH",)) + " reach the host")]
    layers += limits.apply_limits(
        profile.memory_mb, profile.max_open_files, profile.max_file_mb, profile.max_processes, profile.cpu_seconds
    )
    if not is_linux():
        names = ("network_namespace", "privileges", "no_new_privs", "landlock_fs", "landlock_tcp",
                 "landlock_scope", "seccomp")
        return layers + [Layer(name, False, NOT_LINUX) for name in names]
    seccomp.load_libseccomp()  # before Landlock hides the library directory's contents from dlopen
    if profile.network:
        layers.append(Layer("network_namespace", False, NOT_REQUESTED + " (network = true)"))
    else:
        layers.append(namespaces.isolate_network())
    layers.append(_privileges(profile))
    private = _private_tmp(profile.private_tmp)
    layers.append(private)
    layers.append(privileges.no_new_privs())
    read = [*landlock.python_runtime_paths(), *SYSTEM_READ_PATHS, *profile.read_paths]
    if profile.network:
        read += NETWORK_READ_PATHS
    write = [*SYSTEM_WRITE_PATHS, *profile.write_paths, *([os.environ["TMPDIR"]] if private.enforced else [])]
    layers += landlock.apply_landlock(read, write, deny_tcp=not profile.network, scope_signals=True)
    layers.append(seccomp.apply_seccomp(allow_fork=profile.subprocesses, allow_network=profile.network))
    return layers


def _private_tmp(given: str) -> Layer:
    """A temporary directory only this host uses, in TMPDIR for the plugin (`given`, or a new one)."""
    try:
        path = given or tempfile.mkdtemp(prefix="nuvom-sandbox-")  # not nuvom-host-*: no worker holds its lock
        if not os.access(path, os.W_OK):
            raise OSError(f"{path} is not writable by uid {os.geteuid()}")
    except OSError as error:
        return Layer("private_tmp", False, f"cannot use a temporary directory: {error}")
    os.environ["TMPDIR"] = tempfile.tempdir = path
    return Layer("private_tmp", True, path)


def _privileges(profile: SandboxProfile) -> Layer:
    """Root becomes `nobody` when Python is readable by it, else stays uid 0 without capabilities."""
    if os.geteuid() != 0:
        return Layer("privileges", True, f"unprivileged already (uid {os.geteuid()})")
    uid, gid = privileges.unprivileged_ids()
    unreadable = unreadable_by_others([sys.prefix, sys.base_prefix, *profile.read_paths, *profile.write_paths])
    if profile.run_as == "nobody" and not unreadable:
        if profile.private_tmp:
            os.chown(profile.private_tmp, uid, gid)  # it becomes the dropped user's directory
        dropped = privileges.drop_to_user(uid, gid)
        return Layer("privileges", dropped.enforced, dropped.detail)
    why = (f"run_as = {profile.run_as!r}" if profile.run_as != "nobody"
           else f"uid {uid} could not read {unreadable[0]}")
    dropped = capabilities.drop_all()
    return Layer("privileges", False, f"still uid 0 ({why}); {dropped.detail}")


def unreadable_by_others(paths: list[str]) -> list[str]:
    """The first place, for each path, that keeps another user from reading it.

    That is the path itself when others may not read it, or a directory on the way to it
    that others may not enter. A missing path is skipped (Landlock reports it).
    """
    blocked = []
    for path in paths:
        target = os.path.realpath(path)
        current = target
        while True:
            try:
                mode = os.stat(current).st_mode
            except OSError:
                break
            unreadable = current == target and not mode & stat.S_IROTH
            closed_directory = stat.S_ISDIR(mode) and not mode & stat.S_IXOTH
            if unreadable or closed_directory:
                blocked.append(current)
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
    return blocked
