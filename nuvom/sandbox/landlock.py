"""Landlock through ctypes: filesystem rules, TCP bind/connect denial and signal scoping.

One ruleset carries everything, built for the ABI the kernel reports:

- ABI 1: the base filesystem rights; ABI 2: REFER (rename/link across directories);
  ABI 3: TRUNCATE; ABI 5: IOCTL_DEV (ioctl on device files);
- ABI 4: TCP bind and connect rules (handled with no rule, they deny all of it);
- ABI 6: scoping: no signals to, and no abstract unix sockets of, processes outside
  the domain (so `kill(getppid(), ...)` fails with EPERM).

Landlock restricts only what is opened or attempted after `landlock_restrict_self`:
file descriptors already open (the RPC socket, stdout) keep working. The domain binds
the calling thread and its future threads and children, so it is refused while other
threads run. It needs no_new_privs first, or CAP_SYS_ADMIN.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
from typing import Iterable, Sequence

from nuvom.sandbox._linux import errno_reason, is_linux, syscall, threads_reason
from nuvom.sandbox.report import NOT_LINUX, NOT_REQUESTED, Layer

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13
ACCESS_FS_TRUNCATE = 1 << 14
ACCESS_FS_IOCTL_DEV = 1 << 15

ACCESS_NET_BIND_TCP = 1 << 0
ACCESS_NET_CONNECT_TCP = 1 << 1

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

ACCESS_FS_ABI1 = (1 << 13) - 1
READ_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR
FILE_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV

NO_LANDLOCK = "kernel has no Landlock"


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The Landlock ABI version of the running kernel; 0 when Landlock is absent or disabled."""
    if not is_linux():
        return 0
    try:
        return syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    except OSError:
        return 0


def fs_rights(abi: int) -> int:
    """Every filesystem access right the given ABI can handle (0 for ABI 0)."""
    if abi < 1:
        return 0
    rights = ACCESS_FS_ABI1
    if abi >= 2:
        rights |= ACCESS_FS_REFER
    if abi >= 3:
        rights |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        rights |= ACCESS_FS_IOCTL_DEV
    return rights


def ruleset_size(abi: int) -> int:
    """Size of `struct landlock_ruleset_attr` as the given ABI knows it."""
    if abi >= 6:
        return 24
    if abi >= 4:
        return 16
    return 8


def python_runtime_paths() -> list[str]:
    """Directories this interpreter imports from: its prefixes and the existing sys.path entries.

    Put them on the read paths, or the sandboxed process cannot import anything new.
    """
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates += [entry for entry in sys.path if entry]
    paths: list[str] = []
    for candidate in candidates:
        path = os.path.realpath(candidate)
        if os.path.exists(path) and path not in paths:
            paths.append(path)
    return paths


def apply_landlock(
    read_paths: Sequence[str],
    write_paths: Sequence[str],
    deny_tcp: bool = False,
    scope_signals: bool = False,
) -> list[Layer]:
    """Restrict this process with one Landlock ruleset; returns three Layers.

    - "landlock_fs": every filesystem right the ABI supports is handled; read and
      execute rights are granted beneath `read_paths`, all rights beneath `write_paths`.
      Paths that do not exist (or cannot be opened) are skipped and named in the detail.
      Read or write rights on a file (not a directory) are limited to the file rights.
    - "landlock_tcp" (`deny_tcp`, ABI >= 4): all TCP bind and connect are denied (EACCES).
    - "landlock_scope" (`scope_signals`, ABI >= 6): signals to, and abstract unix sockets
      of, processes outside the domain are denied (EPERM).
    """
    names = ("landlock_fs", "landlock_tcp", "landlock_scope")
    if not is_linux():
        return [Layer(name, False, NOT_LINUX) for name in names]
    abi = landlock_abi()
    if abi < 1:
        return [Layer(name, False, NO_LANDLOCK) for name in names]
    refused = threads_reason("Landlock")
    if refused:
        return [Layer(name, False, refused) for name in names]

    attr = _RulesetAttr(handled_access_fs=fs_rights(abi))
    tcp = _optional("landlock_tcp", deny_tcp, abi, 4, "TCP bind and connect denied")
    scope = _optional("landlock_scope", scope_signals, abi, 6, "no signals or abstract unix sockets outside the sandbox")
    if tcp.enforced:
        attr.handled_access_net = ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP
    if scope.enforced:
        attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET
    planned = [Layer("landlock_fs", True, ""), tcp, scope]

    try:
        ruleset_fd = syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ruleset_size(abi), 0)
    except OSError as error:
        return _failed(planned, f"cannot create a ruleset: {errno_reason(error.errno or 0)}")
    skipped: list[str] = []
    try:
        readable = _add_paths(ruleset_fd, read_paths, READ_RIGHTS & attr.handled_access_fs, skipped)
        writable = _add_paths(ruleset_fd, write_paths, attr.handled_access_fs, skipped)
        syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0)
    except OSError as error:
        hint = " (set no_new_privs first)" if error.errno == errno.EPERM else ""
        return _failed(planned, errno_reason(error.errno or 0) + hint)
    finally:
        os.close(ruleset_fd)

    detail = f"ABI {abi}: read beneath {readable} paths, write beneath {writable} paths"
    if skipped:
        detail += "; skipped (missing or unopenable): " + ", ".join(skipped)
    return [Layer("landlock_fs", True, detail), tcp, scope]


def restrict_filesystem(read_paths: Sequence[str], write_paths: Sequence[str]) -> Layer:
    """`apply_landlock` with filesystem rules only; returns the "landlock_fs" Layer."""
    return apply_landlock(read_paths, write_paths)[0]


def _optional(name: str, requested: bool, abi: int, needed: int, what: str) -> Layer:
    """The planned Layer of an optional part; enforced=True means it goes into the ruleset."""
    if not requested:
        return Layer(name, False, NOT_REQUESTED)
    if abi < needed:
        return Layer(name, False, f"Landlock ABI {abi} < {needed}")
    return Layer(name, True, f"ABI {abi}: {what}")


def _add_paths(ruleset_fd: int, paths: Iterable[str], rights: int, skipped: list[str]) -> int:
    """Grant `rights` beneath each path (file rights only on a file); returns how many rules were added."""
    added = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            if path not in skipped:
                skipped.append(path)
            continue
        try:
            allowed = rights if stat.S_ISDIR(os.fstat(fd).st_mode) else rights & FILE_RIGHTS
            rule = _PathBeneathAttr(allowed_access=allowed, parent_fd=fd)
            syscall(SYS_LANDLOCK_ADD_RULE, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0)
            added += 1
        finally:
            os.close(fd)
    return added


def _failed(planned: Sequence[Layer], reason: str) -> list[Layer]:
    """Every planned part fails with `reason`; parts not planned keep their own reason."""
    return [Layer(layer.name, False, reason if layer.enforced else layer.detail) for layer in planned]
