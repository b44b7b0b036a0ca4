"""A seccomp filter through libseccomp (ctypes): dangerous syscalls fail with EPERM.

The filter allows everything by default and refuses a list of syscalls a plugin has
no business making. Refused calls return an errno instead of killing the process, so
the plugin sees a Python OSError (PermissionError for EPERM) naming what failed.

- always: ptrace and cross-process memory access, mounts, kernel modules, kexec, the
  kernel keyring, bpf, perf_event_open, reboot, swap, userfaultfd, io_uring (whose
  operations would bypass the filter), namespaces (unshare, setns, and clone with a
  CLONE_NEW* flag). personality() stays allowed: libseccomp cannot compare one
  argument twice in a rule (to allow only PER_LINUX and the query), and its flags
  (such as ADDR_NO_RANDOMIZE) only weaken programs the plugin itself executes;
- clone3 always fails with ENOSYS, so libc falls back to clone, whose flags (unlike
  clone3's, passed in memory) the filter can inspect;
- `allow_fork=False`: fork, vfork and clone without CLONE_THREAD fail with EPERM;
  threads still start;
- `allow_network=False`: socket() and socketpair() of any family but AF_UNIX fail with
  EPERM; already open sockets (the inherited RPC socketpair) keep working.

Apply it last: it forbids unshare, which `isolate_network` needs. The filter is
synchronised to every thread of the process (TSYNC) and inherited by children.
Foreign-architecture syscalls (32-bit int 0x80 on x86_64) kill the process.
"""

from __future__ import annotations

import ctypes
import errno
from functools import lru_cache
from typing import Optional, Sequence

from nuvom.sandbox._linux import errno_reason, is_linux
from nuvom.sandbox.report import NOT_LINUX, Layer

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_FLTATR_CTL_TSYNC = 4
SCMP_CMP_NE = 1
SCMP_CMP_MASKED_EQ = 7

CLONE_THREAD = 0x00010000
NAMESPACE_CLONE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
AF_UNIX = 1

DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "add_key", "request_key", "keyctl", "bpf", "perf_event_open", "reboot", "swapon", "swapoff",
    "acct", "quotactl", "syslog", "iopl", "ioperm", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "unshare", "setns",
)
FORK_SYSCALLS = ("fork", "vfork")

NOT_FOUND = "libseccomp not found"


class _ArgCmp(ctypes.Structure):
    """`struct scmp_arg_cmp`: compare syscall argument `arg` with `op` against the data."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def errno_action(code: int) -> int:
    """SCMP_ACT_ERRNO(code): the syscall returns -1 with errno `code`."""
    return 0x00050000 | (code & 0xFFFF)


@lru_cache(maxsize=None)
def load_libseccomp() -> Optional[ctypes.CDLL]:
    """libseccomp through ctypes, or None when the library is not installed.

    The result is cached: call it before Landlock or a user switch, which can hide the
    library or the `ldconfig` that `ctypes.util.find_library` runs.
    """
    lib = _open("libseccomp.so.2") or _open(_find_library("seccomp"))
    if lib is None:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp),
    ]
    return lib


def _find_library(name: str) -> Optional[str]:
    import ctypes.util  # slow to import (it may run ldconfig): only when the usual name is missing

    return ctypes.util.find_library(name)


def _open(name: Optional[str]) -> Optional[ctypes.CDLL]:
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


class _Filter:
    """A libseccomp context being filled with rules; syscalls unknown on this architecture are noted."""

    def __init__(self, lib: ctypes.CDLL, context: int) -> None:
        self.lib = lib
        self.context = context
        self.unknown: list[str] = []

    def add(self, action: int, syscall: str, *comparisons: tuple[int, int, int, int]) -> None:
        """Add one rule: `action` when all `comparisons` (arg, op, a, b) hold; raises OSError."""
        number = self.lib.seccomp_syscall_resolve_name(syscall.encode())
        if number < 0:
            self.unknown.append(syscall)
            return
        array = (_ArgCmp * max(1, len(comparisons)))(*[_ArgCmp(*comparison) for comparison in comparisons])
        result = self.lib.seccomp_rule_add_array(self.context, action, number, len(comparisons), array)
        if result < 0:
            raise OSError(-result, f"seccomp rule for {syscall}: {errno_reason(-result)}")


def apply_seccomp(allow_fork: bool, allow_network: bool) -> Layer:
    """Load the filter described in the module docstring into this process; returns the "seccomp" Layer.

    libseccomp sets no_new_privs itself before loading. A failure leaves the process
    unfiltered and is reported as not enforced.
    """
    name = "seccomp"
    if not is_linux():
        return Layer(name, False, NOT_LINUX)
    lib = load_libseccomp()
    if lib is None:
        return Layer(name, False, NOT_FOUND)
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        return Layer(name, False, "seccomp_init failed")
    try:
        rules = _Filter(lib, context)
        _add_rules(rules, allow_fork, allow_network)
        result = lib.seccomp_attr_set(context, SCMP_FLTATR_CTL_TSYNC, 1)
        if result < 0:
            return Layer(name, False, f"cannot synchronise threads: {errno_reason(-result)}")
        result = lib.seccomp_load(context)
        if result < 0:
            return Layer(name, False, errno_reason(-result))
    except OSError as error:
        return Layer(name, False, str(error.strerror))
    finally:
        lib.seccomp_release(context)
    return Layer(name, True, _describe(allow_fork, allow_network, rules.unknown))


def _add_rules(rules: _Filter, allow_fork: bool, allow_network: bool) -> None:
    eperm = errno_action(errno.EPERM)
    for syscall in DENIED_SYSCALLS:
        rules.add(eperm, syscall)
    for flag in NAMESPACE_CLONE_FLAGS:
        rules.add(eperm, "clone", (0, SCMP_CMP_MASKED_EQ, flag, flag))
    if not allow_fork:
        for syscall in FORK_SYSCALLS:
            rules.add(eperm, syscall)
        rules.add(eperm, "clone", (0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))
    rules.add(errno_action(errno.ENOSYS), "clone3")
    if not allow_network:
        for syscall in ("socket", "socketpair"):
            rules.add(eperm, syscall, (0, SCMP_CMP_NE, AF_UNIX, 0))


def _describe(allow_fork: bool, allow_network: bool, unknown: Sequence[str]) -> str:
    parts = [f"EPERM on {len(DENIED_SYSCALLS)} dangerous syscalls and namespace clones, clone3 ENOSYS"]
    if not allow_fork:
        parts.append("no fork/vfork/non-thread clone (EPERM)")
    if not allow_network:
        parts.append("socket() only AF_UNIX")
    if unknown:
        parts.append("not on this architecture: " + ", ".join(unknown))
    return "; ".join(parts)
