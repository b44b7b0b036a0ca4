"""Private helpers shared by the layers: libc through ctypes, errno wording, thread count."""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from functools import lru_cache

_REASONS = {
    errno.EPERM: "not permitted",
    errno.EACCES: "access denied",
    errno.EINVAL: "invalid argument",
    errno.ENOSYS: "not supported by the kernel",
    errno.EOPNOTSUPP: "disabled in the kernel",
    errno.ENOSPC: "namespace limit reached",
    errno.EUSERS: "namespace nesting limit reached",
    errno.ENOMEM: "out of memory",
}


def is_linux() -> bool:
    """True on Linux, read at call time (tests fake other platforms by patching sys.platform)."""
    return sys.platform.startswith("linux")


def errno_reason(number: int) -> str:
    """Words for a failed syscall, ending in the errno name: "not permitted: EPERM"."""
    name = errno.errorcode.get(number, str(number))
    words = _REASONS.get(number) or os.strerror(number).lower()
    return f"{words}: {name}"


@lru_cache(maxsize=None)
def libc() -> ctypes.CDLL:
    """The C library with errno capture, loaded once."""
    return ctypes.CDLL(None, use_errno=True)  # the C library this interpreter already uses


def syscall(number: int, *args: object) -> int:
    """`syscall(2)` returning the result, or raising OSError with the errno on -1.

    Python ints are passed as C longs, as the kernel ABI expects; anything else
    (None for NULL, `ctypes.byref(...)`) is passed as it is.
    """
    function = libc().syscall
    function.restype = ctypes.c_long
    converted = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    result = function(ctypes.c_long(number), *converted)
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """`prctl(2)` returning the result, or raising OSError with the errno on -1."""
    function = libc().prctl
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    result = function(option, arg2, arg3, arg4, arg5)
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def thread_count() -> int:
    """How many threads this process has, from /proc (1 when /proc cannot tell)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 1


def threads_reason(layer: str) -> str | None:
    """Why a per-thread layer must not be applied now, or None when the process has one thread.

    Some kernel state (no_new_privs, Landlock domains, namespaces) binds only the
    calling thread and the threads and children it creates afterwards: applied with
    other threads already running, it would leave them unconfined.
    """
    count = thread_count()
    if count <= 1:
        return None
    return f"process already has {count} threads: {layer} would bind only the calling thread"
