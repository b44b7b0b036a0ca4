"""Privilege layers: no_new_privs, not-dumpable, and dropping root to an unprivileged user.

Order matters: changing the uid or gid resets the dumpable flag to
/proc/sys/fs/suid_dumpable (0 by default) and clears the parent-death signal, so a
process that drops to another user is not dumpable afterwards unless it sets it again.
"""

from __future__ import annotations

import grp
import os
import pwd

from nuvom.sandbox._linux import errno_reason, is_linux, prctl, threads_reason
from nuvom.sandbox.report import NOT_LINUX, Layer

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39

NOBODY_ID = 65534


def no_new_privs() -> Layer:
    """Set PR_SET_NO_NEW_PRIVS: execve can never grant privileges again (setuid bits,
    file capabilities), and Landlock and seccomp may be applied without CAP_SYS_ADMIN.

    The flag is per thread and inherited by new threads and children, so it is refused
    while other threads already run.
    """
    if not is_linux():
        return Layer("no_new_privs", False, NOT_LINUX)
    refused = threads_reason("no_new_privs")
    if refused:
        return Layer("no_new_privs", False, refused)
    return _set_flag("no_new_privs", PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, 1, "execve cannot gain privileges")


def set_not_dumpable() -> Layer:
    """Set PR_SET_DUMPABLE to 0 for the whole process.

    Meant for the worker, which holds secrets in its environment: a process of the
    same user can then neither read /proc/<pid>/environ (or mem, maps, fd/) nor ptrace
    it; only a process with CAP_SYS_PTRACE (root) still can.
    """
    if not is_linux():
        return Layer("not_dumpable", False, NOT_LINUX)
    return _set_flag("not_dumpable", PR_SET_DUMPABLE, PR_GET_DUMPABLE, 0,
                     "same-user processes cannot read /proc/<pid> or ptrace it")


def _set_flag(layer: str, set_option: int, get_option: int, value: int, enforced: str) -> Layer:
    """prctl(set_option, value), then read it back: enforced only if it reads `value`."""
    try:
        prctl(set_option, value)
        current = prctl(get_option)
    except OSError as error:
        return Layer(layer, False, errno_reason(error.errno or 0))
    if current != value:
        return Layer(layer, False, f"prctl option {get_option} reads {current} after setting {value}")
    return Layer(layer, True, enforced)


def drop_to_user(uid: int, gid: int) -> Layer:
    """Become `uid`/`gid` for good: setgroups([]), setgid(gid), setuid(uid).

    Only root can change its user. When the process is not root:
    - if its real, effective and saved ids are already `uid`/`gid`, the layer holds
      and is reported enforced ("already running as ...");
    - otherwise it is reported not enforced ("not root: cannot switch from uid N").
    After the switch all three uids and gids are verified, and so is that the process
    can no longer become root again.
    """
    name = "drop_to_user"
    if not hasattr(os, "setresuid"):
        return Layer(name, False, NOT_LINUX)
    if os.geteuid() != 0:
        if os.getresuid() == (uid, uid, uid) and os.getresgid() == (gid, gid, gid):
            return Layer(name, True, f"already running as uid {uid} gid {gid}")
        return Layer(name, False, f"not root: cannot switch from uid {os.geteuid()} to uid {uid}")
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as error:
        return Layer(name, False, errno_reason(error.errno or 0))
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        return Layer(name, False, f"ids after the switch: uids {os.getresuid()} gids {os.getresgid()}")
    if uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            return Layer(name, False, "the process could become root again")
    return Layer(name, True, f"uid {uid} gid {gid}, no supplementary groups")


def unprivileged_ids() -> tuple[int, int]:
    """(uid, gid) of the `nobody` user and its group (`nogroup` or `nobody`); 65534 when absent."""
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        uid = NOBODY_ID
    for group in ("nogroup", "nobody"):
        try:
            return uid, grp.getgrnam(group).gr_gid
        except KeyError:
            continue
    return uid, NOBODY_ID
