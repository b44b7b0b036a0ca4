"""Starting host processes: forked from a zygote that has imported a host's code once.

`spawn_host(argv, env, channel)` returns a process object with the parts of
`subprocess.Popen` the supervisor uses (`pid`, `poll`, `wait`, `returncode`, `stdout`,
`stderr`). On Linux the host is forked by the zygote (`plugin_host/zygote.py`): a few
milliseconds instead of a fresh interpreter's ~90 ms, with pages shared between hosts.
Where the zygote cannot run (not Linux, or it failed to start) hosts are started as
plain `python -I -m plugin_host` processes; the difference is speed, not behaviour.

Both the zygote and plain hosts are started from one long-lived thread: a process asks
the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG), and Linux sends it when
the *thread* that forked it exits. Spawning from short-lived threads (a start-up pool, a
restart thread) would kill healthy hosts.
"""

from __future__ import annotations

import array
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger("nuvom.plugins")
NUVOM_ROOT = str(Path(__file__).resolve().parents[2])
SPAWN_TIMEOUT = 10.0
# -I: no user site, no PYTHON* variables, no current directory on sys.path; -u: a plugin's
# print reaches the worker's log at once (-I ignores PYTHONUNBUFFERED); forked hosts inherit both
HOST_INTERPRETER = (sys.executable, "-I", "-u", "-m", "plugin_host")


class HostProcess:
    """A host forked by the zygote; the zygote reaps it and reports its exit status."""

    def __init__(self, pid: int, stdout: BinaryIO, stderr: BinaryIO) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._ended = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"plugin host {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def end(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
        self._ended.set()


class Zygote:
    """The worker's side of the zygote: spawn requests, and exit reports routed to hosts."""

    def __init__(self, process: subprocess.Popen, control: socket.socket) -> None:
        self.process = process
        self._control = control
        self._lock = threading.Lock()  # one request and its reply at a time
        self._replies: queue.SimpleQueue[dict] = queue.SimpleQueue()
        self._hosts: dict[int, HostProcess] = {}
        self._early_exits: dict[int, int] = {}  # exits reported before the host was registered
        self._hosts_lock = threading.Lock()
        self.alive = True
        threading.Thread(target=self._read, name="nuvom-zygote-reader", daemon=True).start()

    def spawn(self, argv: list[str], env: dict[str, str], channel: int) -> HostProcess:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            with self._lock:
                if not self.alive:
                    raise OSError("the zygote has exited")
                request = json.dumps({"argv": argv, "env": env}).encode()
                fds = array.array("i", [channel, out_w, err_w])
                self._control.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
                try:
                    reply = self._replies.get(timeout=SPAWN_TIMEOUT)
                except queue.Empty:
                    self.alive = False  # a late answer must never be taken for the next request's
                    self.process.kill()  # and whatever it forked dies with it
                    raise OSError(f"the zygote did not answer within {SPAWN_TIMEOUT:g} s") from None
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        if "pid" not in reply:
            for fd in (out_r, err_r):
                os.close(fd)
            raise OSError(f"the zygote could not fork a host: {reply.get('error', reply)}")
        host = HostProcess(reply["pid"], os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))
        with self._hosts_lock:
            self._hosts[host.pid] = host
            early = self._early_exits.pop(host.pid, None)
        if early is not None:
            host.end(early)
        return host

    def close(self) -> None:
        """Close the control socket: the zygote exits, and its hosts with it."""
        try:
            self._control.shutdown(socket.SHUT_RDWR)  # close() alone would not wake our reader's recv
        except OSError:
            pass
        self._control.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _read(self) -> None:
        while True:
            try:
                data = self._control.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            if "exit" in message:
                code = os.waitstatus_to_exitcode(message["status"])
                with self._hosts_lock:
                    host = self._hosts.pop(message["exit"], None)
                    if host is None:
                        self._early_exits[message["exit"]] = code
                if host is not None:
                    host.end(code)
            else:
                self._replies.put(message)
        self.alive = False  # the zygote died: its hosts died with it (their parent-death signal)
        self._replies.put({"error": "the zygote exited"})
        with self._hosts_lock:
            hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            host.end(-signal.SIGKILL)


class Spawner:
    """Starts hosts (and the zygote) from one long-lived thread; see the module docstring."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._zygote: Zygote | None = None
        self._zygote_lock = threading.Lock()  # one zygote is started at a time
        self._zygote_failed = not sys.platform.startswith("linux")

    def _run_in_thread(self, function: Any, *args: Any) -> Any:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="nuvom-host-spawner", daemon=True)
                self._thread.start()
        reply: queue.SimpleQueue = queue.SimpleQueue()
        self._requests.put((function, args, reply))
        result = reply.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def _serve(self) -> None:
        while True:
            function, args, reply = self._requests.get()
            try:
                reply.put(function(*args))
            except BaseException as error:  # handed back to the caller, which raises it
                reply.put(error)

    def popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen:
        """`subprocess.Popen(args, **kwargs)`, from the spawner thread."""
        return self._run_in_thread(lambda: subprocess.Popen(args, **kwargs))

    def spawn_host(self, argv: list[str], env: dict[str, str], channel: int) -> Any:
        """A host running `python -I -m plugin_host *argv --fd channel` in its own session.

        The first host of a process starts as a fresh interpreter while the zygote starts
        beside it (the zygote would need as long to be ready); later hosts are forked.
        """
        zygote, started_now = self._zygote_or_none(env)
        if zygote is not None and not started_now:
            try:
                return zygote.spawn(argv, env, channel)
            except OSError as error:
                log.warning("cannot fork a plugin host from the zygote (%s); starting it directly", error)
        return self.popen(
            [*HOST_INTERPRETER, *argv, "--fd", str(channel)],
            pass_fds=[channel], cwd=NUVOM_ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )

    def _zygote_or_none(self, env: dict[str, str]) -> tuple[Zygote | None, bool]:
        """(the zygote, whether this call started it); (None, False) where there can be none."""
        with self._zygote_lock:
            with self._lock:
                if self._zygote_failed:
                    return None, False
                if self._zygote is not None and self._zygote.alive:
                    return self._zygote, False
            try:
                zygote = self._run_in_thread(self._start_zygote, env)
            except OSError as error:
                log.warning("cannot start the plugin host zygote (%s); hosts start as fresh interpreters", error)
                with self._lock:
                    self._zygote_failed = True
                return None, False
            with self._lock:
                self._zygote = zygote
            return zygote, True

    def close(self) -> None:
        """End the zygote (its hosts die with it); the next host starts a new one."""
        with self._lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()

    @staticmethod
    def _start_zygote(env: dict[str, str]) -> Zygote:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                [*HOST_INTERPRETER, "--zygote", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], cwd=NUVOM_ROOT, env={k: env[k] for k in ("PATH", "LANG") if k in env},
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            theirs.close()
        return Zygote(process, ours)


spawner = Spawner()
