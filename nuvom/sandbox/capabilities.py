"""Root without its powers: drop every Linux capability for good.

Used when a host must stay uid 0 (the worker runs as root and `nobody` cannot read
Python or the plugin's paths). Uid 0 without capabilities is an ordinary user to the
kernel's permission checks except for files owned by root, which Landlock covers; it
cannot kill or ptrace other users' processes, mount, load modules or bind low ports,
and the securebits keep it from regaining capabilities through execve or setuid.
"""

from __future__ import annotations

import ctypes

from nuvom.sandbox._linux import errno_reason, is_linux, libc, prctl
from nuvom.sandbox.report import NOT_LINUX, Layer

PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECURE_ALL_BITS_LOCKED = 0x2F  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off, each locked
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as last:
            return int(last.read())
    except (OSError, ValueError):
        return 40


def effective_capabilities() -> int:
    """The CapEff mask of this process, from /proc (-1 when it cannot be read)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return -1


def drop_all() -> Layer:
    """Empty the bounding, ambient, effective, permitted and inheritable sets; lock securebits."""
    name = "capabilities"
    if not is_linux():
        return Layer(name, False, NOT_LINUX)
    try:
        for capability in range(_last_capability() + 1):
            prctl(PR_CAPBSET_DROP, capability)
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        prctl(PR_SET_SECUREBITS, SECURE_ALL_BITS_LOCKED)
    except OSError as error:
        return Layer(name, False, f"cannot drop capabilities: {errno_reason(error.errno or 0)}")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc().capset(ctypes.byref(header), data) != 0:
        return Layer(name, False, f"capset refused: {errno_reason(ctypes.get_errno())}")
    remaining = effective_capabilities()
    if remaining != 0:
        return Layer(name, False, f"capabilities left after dropping them: {remaining:#x}")
    return Layer(name, True, "no capabilities, none regainable (bounding set empty, securebits locked)")
