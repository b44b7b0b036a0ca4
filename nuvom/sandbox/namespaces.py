"""Network isolation: move this process into a new, empty network namespace.

A new network namespace has only a loopback interface, and it is down: every
connection by address (TCP, UDP, even to 127.0.0.1) fails with ENETUNREACH, and no
listening port of the machine is reachable. Sockets opened before, such as the RPC
socketpair inherited from the worker, keep working: a socket belongs to the namespace
it was created in.

Root has CAP_SYS_ADMIN and needs only CLONE_NEWNET (a root refused with EPERM, as in
a container, tries the unprivileged way). An unprivileged process first
needs a user namespace (CLONE_NEWUSER), in which it maps its own uid and gid to
themselves so that files keep their owners. Some systems forbid unprivileged user
namespaces (Ubuntu 23.10+ AppArmor, Docker's default seccomp profile): the layer is
then reported not enforced. A process in its own user namespace holds capabilities
there, so a seccomp filter refusing unshare and setns belongs after this layer.
"""

from __future__ import annotations

import ctypes
import errno
import os

from nuvom.sandbox._linux import errno_reason, is_linux, libc, prctl, threads_reason
from nuvom.sandbox.report import NOT_LINUX, Layer

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def isolate_network() -> Layer:
    """unshare(2) into a new network namespace (and a user namespace when not root).

    Must run before any thread starts (unshare of a user namespace refuses
    multithreaded processes, and a network namespace would bind only this thread).
    The layer is verified by the namespace id in /proc/self/ns/net changing.
    """
    name = "network_namespace"
    if not is_linux():
        return Layer(name, False, NOT_LINUX)
    refused = threads_reason("a network namespace")
    if refused:
        return Layer(name, False, refused)
    uid, gid = os.geteuid(), os.getegid()
    before = _net_namespace_id()
    with_user = uid != 0
    failed = _unshare(CLONE_NEWNET | (CLONE_NEWUSER if with_user else 0))
    if failed == errno.EPERM and not with_user:
        with_user = True  # root without CAP_SYS_ADMIN, as in a container: try a user namespace
        failed = _unshare(CLONE_NEWNET | CLONE_NEWUSER)
    if failed:
        disabled = with_user and failed in (errno.EPERM, errno.EACCES, errno.ENOSPC)
        hint = " (unprivileged user namespaces are disabled here)" if disabled else ""
        return Layer(name, False, errno_reason(failed) + hint)
    if with_user:
        try:
            _map_ids(uid, gid)
        except OSError as error:
            return Layer(name, False, f"user namespace id map refused: {errno_reason(error.errno or 0)}")
    if _net_namespace_id() == before:
        return Layer(name, False, "the network namespace did not change")
    via = f"a user namespace mapping uid {uid} gid {gid}" if with_user else "root"
    return Layer(name, True, f"empty network namespace (loopback down, via {via}); inherited sockets keep working")


def _unshare(flags: int) -> int:
    """unshare(2); returns 0 on success, else the errno."""
    if libc().unshare(flags) == 0:
        return 0
    return ctypes.get_errno()


def _map_ids(uid: int, gid: int) -> None:
    """Map the ids to themselves in the new user namespace; setgroups must be denied first.

    A process that is not dumpable (as after any uid change) cannot open its own
    /proc/self maps, which then belong to root: it is made dumpable for these three
    writes and its previous state restored. Binary writes: after dropping to an
    unprivileged user, the interpreter may no longer be able to import a text codec.
    """
    dumpable = prctl(PR_GET_DUMPABLE)
    if dumpable != 1:
        prctl(PR_SET_DUMPABLE, 1)
    try:
        for name, content in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "wb") as file:
                file.write(content.encode())
    finally:
        if dumpable != 1:
            prctl(PR_SET_DUMPABLE, dumpable)


def _net_namespace_id() -> int:
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return -1
