"""The zygote: one process that has imported a host's code once and forks every host from it.

A host started from scratch spends most of its ~90 ms importing; a fork of a process
that already did costs a few milliseconds, and its pages are shared. The worker talks
to the zygote over a SOCK_SEQPACKET socket, one message per request or event:

- worker -> zygote: `{"argv": [...], "env": {...}}` with three file descriptors attached
  (SCM_RIGHTS): the host's RPC socket, and the write ends of its stdout and stderr pipes;
- zygote -> worker: `{"pid": N}` for each request, in order, or `{"error": "..."}`;
- zygote -> worker: `{"exit": pid, "status": wait status}` when a host ends (it reaps them).

Each forked host gets its own session, stdio, environment and parent-death signal
(the zygote dies with the worker, and the hosts with the zygote), then runs exactly
what `python -m plugin_host --fd N --sandbox ...` runs: the sandbox comes after the fork.
The zygote stays single-threaded, so forking it is safe.
"""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import sys
import traceback

MAX_MESSAGE = 1 << 20


def receive(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One request and its file descriptors; (None, []) when the worker has gone."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(MAX_MESSAGE, socket.CMSG_LEN(3 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        return None, list(fds)
    return json.loads(data), list(fds)


def serve_spawns(control_fd: int) -> None:
    """Fork a host for every request until the worker closes the socket."""
    from plugin_host.__main__ import parse, run_host  # the host's code, imported once, here
    import plugin_host.host  # noqa: F401
    import nuvom.sandbox.profile  # noqa: F401

    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd hears it
    while True:
        ready, _, _ = select.select([control, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            _report_exits(control)
        if control in ready:
            try:
                request, fds = receive(control)
            except OSError:
                return
            if request is None:
                return
            _spawn(control, request, fds, parse, run_host, (wake_r, wake_w))


def _spawn(control: socket.socket, request: dict, fds: list[int], parse, run_host, private: tuple) -> None:
    if len(fds) != 3:
        control.send(json.dumps({"error": f"expected 3 file descriptors, got {len(fds)}"}).encode())
        for fd in fds:
            os.close(fd)
        return
    channel, out, err = fds
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as error:  # e.g. EAGAIN: the worker starts this host as a fresh interpreter instead
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"error": f"fork failed: {error}"}).encode())
        return
    if pid == 0:
        try:
            for fd in private:  # the zygote's own wake-up pipe is none of the host's business
                os.close(fd)
            _become_host(request, channel, out, err, control, parse, run_host)
        except BaseException:
            traceback.print_exc()  # to the host's stderr pipe once dup2 ran: the worker logs it
            sys.stderr.flush()
        finally:
            os._exit(71)  # run_host never returns
    for fd in fds:
        os.close(fd)
    control.send(json.dumps({"pid": pid}).encode())


def _become_host(request, channel, out, err, control, parse, run_host) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    control.close()
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    for fd in (null, out, err):
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    args = parse([*request["argv"], "--fd", str(channel)])
    parent = os.getppid()
    from plugin_host.__main__ import die_with_parent

    die_with_parent(parent)
    run_host(args, parent)


def _report_exits(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        try:
            control.send(json.dumps({"exit": pid, "status": status}).encode())
        except OSError:
            return
