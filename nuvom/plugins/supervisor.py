"""`PluginSupervisor`: owns one plugin host process from spawn to reaping.

    spawning -> handshaking -> starting -> running -> stopping -> stopped
                                        \\-> failed (with the reason) / restarting

The host runs `python -I -m plugin_host --fd N` (forked by the zygote, see
`spawner.py`) in its own session, with a minimal environment and its sandbox,
talking over a socketpair; its stdout and stderr are read
line by line and logged under `nuvom.plugin.<name>`. Every phase has a timeout.
A host that dies is noticed at once (end of the channel), reported in words
(exit code or signal name, the last stderr lines) and restarted with backoff
until `max_restarts`; after that it stays `failed` with the reason. Calls made
while it is down fail at once with `PluginUnavailableError`.
"""

from __future__ import annotations

import collections
import fcntl
import glob
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import threading
import time
from typing import Any, Callable

from nuvom.ipc import CallTimeout, ChannelClosed, Connection, RemoteError
from nuvom.plugins.discovery import PluginSpec
from nuvom.plugins.spawner import HOST_INTERPRETER, NUVOM_ROOT, spawner
from nuvom.sandbox.report import missing_layers

log = logging.getLogger("nuvom.plugins")
STDERR_TAIL_LINES = 20
MAX_LINE_BYTES = 8192
LOG_LINES_PER_SECOND = 200
SIGNAL_HINTS = {
    signal.SIGKILL: "possibly out of memory, or killed by Nuvom after a timeout",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
}


class PluginError(Exception):
    """A plugin failed; the message says which plugin and why."""


class PluginUnavailableError(PluginError):
    """A call on a plugin that is not running."""


class PluginCallTimeout(PluginError, TimeoutError):
    """A call on a running plugin got no answer in time (the host is then health-checked)."""


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = SIGNAL_HINTS.get(number)
        return f"killed by {name}" + (f" ({hint})" if hint else "")
    return f"exited with code {returncode}"


def _is_registration_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(capability, str) and isinstance(names, list) and all(isinstance(n, str) for n in names)
        for capability, names in value.items()
    )


def _frame_files(lines: list[str]) -> list[str]:
    return [line.split('"')[1] for line in lines if line.lstrip().startswith('File "')]


def plugin_stacks(dump: list[str]) -> list[str]:
    """The threads of a faulthandler dump that run plugin code (not only Nuvom's or the stdlib's)."""
    ours = (os.path.join(NUVOM_ROOT, "nuvom") + os.sep, os.path.join(NUVOM_ROOT, "plugin_host") + os.sep,
            sysconfig.get_paths()["stdlib"] + os.sep, "<frozen")
    blocks, block = [], []
    for line in dump + [""]:
        if line.strip():
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    plugin_blocks = [b for b in blocks if any(not path.startswith(ours) for path in _frame_files(b))]
    return [line for b in (plugin_blocks or blocks[:1]) for line in b][:40]


def process_start_time(pid: int) -> int | None:
    """The start time of `pid` in clock ticks since boot (identifies a process across pid reuse)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b") ", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def descendants(root: int) -> list[tuple[int, int]]:
    """(pid, start time) of every descendant of `root`, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []
    for pid in entries:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b") ", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        started = process_start_time(pid)
        if started is not None:
            found.append((pid, started))
        todo.extend(children.get(pid, []))
    return found


def plugin_code_paths(spec: PluginSpec) -> list[str]:
    """What the sandbox lets a host read as the plugin's code: the file's directory, or its import root.

    (Python must list the directory it imports a top-level module from, so Landlock cannot
    narrow it further: keep secrets out of the directory a plugin is imported from.)
    """
    location = spec.target.rpartition(":")[0]
    if location.endswith(".py"):
        return [os.path.dirname(os.path.join(spec.project_dir, location))]
    return [spec.import_root or spec.project_dir]


def host_arguments(spec: PluginSpec, environment: list[str], private_tmp: str = "") -> list[str]:
    """`--sandbox PROFILE`: what a host of `spec` enforces on itself."""
    from nuvom.plugins.policy import sandbox_profile

    code = [*plugin_code_paths(spec), NUVOM_ROOT]
    profile = sandbox_profile(spec.policy, spec.project_dir, code, environment, private_tmp)
    return ["--sandbox", json.dumps(profile.to_dict())]


def probe_sandbox(spec: PluginSpec, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The layers a host of `spec` gets on this machine, by starting one that loads no plugin code."""
    env = host_environment(spec.policy.env)
    private_tmp = make_host_tmpdir(spec.name)  # ours, locked like a host's: removed even if the probe fails
    try:
        result = subprocess.run(
            [*HOST_INTERPRETER, "--probe", *host_arguments(spec, list(env), private_tmp)],
            env=env, cwd=NUVOM_ROOT, capture_output=True, text=True,
            timeout=timeout, start_new_session=True,
        )
    finally:
        remove_host_tmpdir(private_tmp)
    if result.returncode != 0:
        raise PluginError(f"plugin {spec.name!r}: the sandbox probe failed: {describe_exit(result.returncode)}; "
                          f"{result.stderr.strip()[-500:]}")
    return json.loads(result.stdout)


_tmpdir_locks: dict[str, int] = {}  # our hosts' private directories -> the descriptor holding each one's lock
_tmpdir_locks_guard = threading.Lock()


def make_host_tmpdir(name: str) -> str:
    """A new private temporary directory for a host of plugin `name`, locked until we remove it.

    A worker killed by SIGKILL (or by a signal it does not handle) runs no code to remove
    its hosts' directories, and the hosts cannot (Landlock), so each directory carries a
    shared flock on itself: the kernel drops it when we die, which is how
    `remove_orphaned_host_tmpdirs`, run here first, tells a dead worker's directory from a
    live one's, in any process and any PID namespace.
    """
    remove_orphaned_host_tmpdirs()
    while True:  # until we hold the lock on a directory that is still there
        path = tempfile.mkdtemp(prefix=f"nuvom-host-{name}-")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)  # not inherited: hosts never hold it
        except FileNotFoundError:
            continue  # another process's sweep found it before we locked it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # fails only while such a sweep holds it
            if os.path.samestat(os.stat(path), os.fstat(fd)):
                break
        except (BlockingIOError, FileNotFoundError):
            pass
        os.close(fd)
    with _tmpdir_locks_guard:
        _tmpdir_locks[path] = fd
    return path


def remove_host_tmpdir(path: str) -> None:
    """Remove a host's private temporary directory (only ever one named nuvom-host-*), then its lock."""
    if path and os.path.basename(path).startswith("nuvom-host-"):
        shutil.rmtree(path, ignore_errors=True)
    with _tmpdir_locks_guard:
        fd = _tmpdir_locks.pop(path, None)
    if fd is not None:
        os.close(fd)


def remove_orphaned_host_tmpdirs() -> None:
    """Remove the private directories whose worker died without removing them (see `make_host_tmpdir`).

    Only directories nobody holds a lock on: every live worker holds one on each of its own.
    Symbolic links, and other users' directories we may not open, are left alone.
    """
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "nuvom-host-*")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its worker is alive
        try:
            log.info("removing %s: no live process holds it (its worker was killed?)", path)
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


def host_environment(passthrough: tuple[str, ...]) -> dict[str, str]:
    """The host's whole environment: what Python needs plus the variables the policy names."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    for name in passthrough:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class PluginSupervisor:
    """One plugin in one host process, with its lifecycle and failure reports."""

    def __init__(
        self,
        spec: PluginSpec,
        settings: dict[str, Any],
        on_registered: Callable[[str, str, str], None] | None = None,
        on_state: Callable[["PluginSupervisor"], None] | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.policy = spec.policy
        self.settings = settings
        self.log = logging.getLogger(f"nuvom.plugin.{spec.name}")
        self.state = "stopped"
        self.pid: int | None = None
        self.restarts = 0
        self.started_at: float | None = None
        self.generation = 0  # increases with every successful start; stubs re-instantiate on change
        self.registered: dict[str, list[str]] = {}
        self.last_failure: dict[str, Any] | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._on_registered = on_registered
        self._on_state = on_state
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._output_threads: list[threading.Thread] = []
        self._stack_capture: list[str] | None = None  # set while a faulthandler dump is expected
        self.sandbox: list[dict[str, Any]] = []  # the layers the host reported in hello
        self._host_tmpdir: str | None = None
        self._warned_sandbox = False

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn, handshake and start the plugin; `PluginError` with the reason on failure."""
        self._stopping.clear()
        try:
            self._start_once()
        except PluginError as error:
            self._fail(str(error))
            raise

    def _set_state(self, state: str) -> None:
        self.state = state
        self.log.debug("plugin %s: %s", self.name, state)
        if self._on_state is not None:
            self._on_state(self)

    def _start_once(self) -> None:
        timeout = self.policy.start_timeout
        self._set_state("spawning")
        ours, theirs = socket.socketpair()
        env = host_environment(self.policy.env)
        private_tmp = make_host_tmpdir(self.name)  # removed when the host ends
        with self._lock:
            previous, self._host_tmpdir = self._host_tmpdir, private_tmp
        if previous:
            remove_host_tmpdir(previous)  # the last host died on its own
        try:
            process = spawner.spawn_host(host_arguments(self.spec, list(env), private_tmp), env, theirs.fileno())
        except OSError as error:  # no process to end: stop() would return early and keep the directory
            with self._lock:
                if self._host_tmpdir == private_tmp:
                    self._host_tmpdir = None
            remove_host_tmpdir(private_tmp)
            ours.close()
            raise PluginError(f"plugin {self.name!r}: cannot start a host process: {error}") from None
        finally:
            theirs.close()
        with self._lock:
            self._process, self.pid = process, process.pid
            self.stderr_tail.clear()
            stopped = self._stopping.is_set()  # stop() sets it before it reads _process under this lock
        if stopped:  # stop() came while we spawned and ended the previous host: this one is ours to end
            ours.close()
            self._end_process(process, grace=0)
            raise PluginError(f"plugin {self.name!r}: stopped while its host was starting")
        self._capture_output(process)
        connection = Connection(ours, name=f"plugin {self.name!r}")
        connection.register("registered", self._registered_late)
        connection.on_close(lambda reason, conn=connection: self._channel_closed(conn, reason))
        connection.start()
        with self._lock:
            self._connection = connection
        self._set_state("handshaking")
        info = self._phase(connection, "hello", "loading the plugin", timeout, self.spec.handshake())
        if not isinstance(info, dict):
            self._kill("answered the handshake with garbage")
            raise PluginError(f"plugin {self.name!r}: the host answered hello with {type(info).__name__}, not a map")
        self._note_sandbox(info)
        if info.get("name") != self.spec.name:
            raise PluginError(
                f"plugin {self.name!r}: the class says its name is {info.get('name')!r}; "
                f"{self.spec.target} was configured as {self.spec.name!r}"
            )
        self._set_state("starting")
        registered = self._phase(connection, "start", "start()", timeout, self.settings)
        if not _is_registration_map(registered):
            self._kill("answered start() with garbage")
            raise PluginError(
                f"plugin {self.name!r}: the host answered start() with {str(registered)[:80]!r}, "
                "not a map of capability -> list of names"
            )
        with self._lock:
            self.registered = {capability: list(names) for capability, names in registered.items()}
            self.generation += 1
            self.started_at = time.time()
        for capability, names in self.registered.items():
            for name in names:
                if self._on_registered is not None:
                    self._on_registered(self.name, capability, name)
        self._set_state("running")
        self.log.info(
            "plugin %s running (pid %s), registered %s", self.name, self.pid,
            ", ".join(f"{c}={n}" for c, names in self.registered.items() for n in names) or "nothing",
        )
        threading.Thread(target=self._health_loop, args=(connection,), name=f"health-{self.name}", daemon=True).start()

    def _note_sandbox(self, info: dict) -> None:
        """Keep what the host says it enforces; warn once about each layer it could not."""
        layers = info.get("sandbox")
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            return
        with self._lock:
            self.sandbox = [layer for layer in layers if isinstance(layer.get("name"), str)]
        missing = [f"{layer['name']} ({layer.get('detail')})" for layer in missing_layers(self.sandbox)]
        if missing and not self._warned_sandbox:
            self._warned_sandbox = True
            self.log.warning("plugin %s: sandbox layers not enforced: %s", self.name, "; ".join(missing))

    def _phase(self, connection: Connection, method: str, label: str, timeout: float, *params: Any) -> Any:
        """Run one start-up call; a hang, an exception or a death becomes a PluginError in words."""
        try:
            return connection.call(method, *params, timeout=timeout)
        except CallTimeout:
            stack = self._ask_for_stack()
            self._kill("timed out")
            raise PluginError(f"plugin {self.name!r}: {label} timed out after {timeout:g} s{stack}") from None
        except RemoteError as error:
            self._kill("failed")
            raise PluginError(
                f"plugin {self.name!r}: {label} raised {error.remote_type}: {error.remote_message}\n"
                f"{error.remote_traceback.rstrip()}"
            ) from None
        except ChannelClosed:
            raise PluginError(f"plugin {self.name!r}: host died during {label}: {self._death_report()}") from None

    def _ask_for_stack(self) -> str:
        """Best effort: where the plugin's code is stuck (faulthandler on SIGUSR1, read from stderr)."""
        process = self._process
        if process is None or process.poll() is not None:
            return ""
        captured: list[str] = []
        self._stack_capture = captured
        try:
            os.kill(process.pid, signal.SIGUSR1)
        except ProcessLookupError:
            return ""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and not any(line.startswith("Current thread") for line in captured):
            time.sleep(0.02)
        time.sleep(0.05)  # the current thread's frames follow its header
        self._stack_capture = None
        blocks = plugin_stacks(captured)
        return ("; where it was:\n" + "\n".join(blocks)) if blocks else ""

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """A call on the running host; `PluginUnavailableError` at once if it is not running."""
        with self._lock:
            connection, state = self._connection, self.state
        if state != "running" or connection is None:
            raise PluginUnavailableError(self.unavailable_reason())
        try:
            return connection.call(method, *params, timeout=self.policy.call_timeout if timeout is None else timeout)
        except CallTimeout as error:
            self.log.warning("plugin %s: %s; checking the host's health", self.name, error)
            threading.Thread(target=self._check_health, args=(connection,), daemon=True).start()
            raise PluginCallTimeout(f"plugin {self.name!r}: {error}") from None
        except ChannelClosed:
            if self.state == "running" and not self._stopping.is_set():  # died under us: say how
                raise PluginUnavailableError(f"plugin {self.name!r}: host died: {self._death_report()}") from None
            raise PluginUnavailableError(self.unavailable_reason()) from None

    def status(self) -> dict[str, Any]:
        """What `nuvom plugin list` / `inspect` show about this plugin (no settings: they may hold secrets)."""
        with self._lock:
            return {
                "isolation": "process",
                "state": self.state,
                "pid": self.pid if self.state not in ("stopped", "failed") else None,
                "restarts": self.restarts,
                "started_at": self.started_at,
                "registered": {capability: list(names) for capability, names in self.registered.items()},
                "last_failure": dict(self.last_failure) if self.last_failure else None,
                "sandbox": list(self.sandbox),
            }

    def unavailable_reason(self) -> str:
        reason = (self.last_failure or {}).get("reason", "")
        first = reason.splitlines()[0].removeprefix(f"plugin {self.name!r}: ") if reason else ""
        return f"plugin {self.name!r} is {self.state}" + (f": {first}" if first else "")

    def stop(self) -> str | None:
        """stop() with stop_timeout, then SIGTERM, then SIGKILL of the host's process group.

        Returns what went wrong with the plugin's stop() (also logged), or None.
        """
        self._stopping.set()
        with self._lock:
            connection, process, state = self._connection, self._process, self.state
        if process is None:
            return None
        self._set_state("stopping")
        problem = None
        if connection is not None and state == "running" and connection.closed:
            problem = f"the host died before stop() could run: {self._death_report()}"
        elif connection is not None and state == "running":
            try:
                connection.call("stop", timeout=self.policy.stop_timeout)
            except CallTimeout:
                problem = f"stop() did not return within {self.policy.stop_timeout:g} s; the host was ended"
            except RemoteError as error:
                problem = f"stop() raised {error.remote_type}: {error.remote_message}"
            except ChannelClosed:
                problem = f"the host died during stop(): {self._death_report()}"
        if problem:
            self.log.warning("plugin %s: %s", self.name, problem)
        offspring = descendants(process.pid)  # while the host still holds them: it exits when the channel closes
        if connection is not None:
            connection.close("worker stopped the plugin")
        self._end_process(process, grace=1.0, offspring=offspring)
        self._set_state("stopped")
        return problem

    # failures ----------------------------------------------------------------------------

    def _end_process(
        self, process: subprocess.Popen, grace: float, offspring: list[tuple[int, int]] | None = None
    ) -> None:
        """SIGTERM the group, wait `grace`, SIGKILL it and every descendant; always reap."""
        offspring = (offspring or []) + descendants(process.pid)  # before they are re-parented to init
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything the host left in its group
        except (ProcessLookupError, PermissionError):
            pass
        for pid, started in offspring:  # and what left the group (setsid), unless the pid was reused
            if process_start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        process.wait()
        for thread in self._output_threads:
            thread.join(1.0)
        with self._lock:
            tmpdir, self._host_tmpdir = self._host_tmpdir, None
        if tmpdir:
            remove_host_tmpdir(tmpdir)

    def _kill(self, why: str) -> None:
        with self._lock:
            process, connection = self._process, self._connection
        offspring = descendants(process.pid) if process is not None else []
        if connection is not None:
            connection.close(f"plugin {why}")
        if process is not None:
            self._end_process(process, grace=0, offspring=offspring)

    def _death_report(self) -> str:
        process = self._process
        if process is not None:
            try:
                process.wait(2.0)
            except subprocess.TimeoutExpired:
                pass
        for thread in self._output_threads:
            thread.join(0.5)
        report = describe_exit(process.returncode if process else None) + self._limit_hint(process)
        if self.stderr_tail:
            report += "; last stderr lines:\n" + "\n".join(self.stderr_tail)
        return report

    def _limit_hint(self, process: subprocess.Popen | None) -> str:
        """Which of the policy's limits a death by this signal points at, in words."""
        code = process.returncode if process else None
        policy = self.policy
        if code == -signal.SIGXCPU and policy.cpu_seconds:
            return f": CPU time limit of {policy.cpu_seconds} s reached"
        if code == -signal.SIGXFSZ and policy.max_file_mb:
            return f": file size limit of {policy.max_file_mb} MiB reached"
        if code == -signal.SIGABRT and policy.memory_mb:  # C code often aborts when malloc fails
            return f"; its memory limit is {policy.memory_mb} MiB"
        return ""

    def _channel_closed(self, connection: Connection, reason: str) -> None:
        """The channel ended. Unless we are stopping or restarting, the host failed: report, restart."""
        with self._lock:
            if connection is not self._connection or self._stopping.is_set() or self.state != "running":
                return
        if "protocol violation" in reason:
            self._kill("broke the protocol")
            failure = f"plugin {self.name!r}: {reason}; the host was killed"
        else:
            failure = f"plugin {self.name!r}: host died: {self._death_report()}"
        self._fail(failure)
        threading.Thread(target=self._restart, name=f"restart-{self.name}", daemon=True).start()

    def _fail(self, reason: str) -> None:
        with self._lock:
            self.last_failure = {"reason": reason, "stderr_tail": list(self.stderr_tail), "at": time.time()}
        self.log.error("%s", reason)
        self._set_state("failed")

    def _restart(self) -> None:
        policy = self.policy
        while not self._stopping.is_set():
            if policy.restart != "on-failure" or self.restarts >= policy.max_restarts:
                self.log.error("plugin %s stays failed after %d restarts", self.name, self.restarts)
                return
            delay = policy.restart_backoff * (2**self.restarts)
            self.restarts += 1
            self._set_state("restarting")
            self.log.warning(
                "plugin %s: restart %d of %d in %.1f s", self.name, self.restarts, policy.max_restarts, delay
            )
            if self._stopping.wait(delay):
                return
            try:
                self._start_once()
                return
            except PluginError as error:
                if self._stopping.is_set():  # stop() ended it: "stopped", not a failure
                    self._set_state("stopped")
                    return
                self._fail(str(error))

    def _registered_late(self, capability: str, name: str) -> None:
        if not isinstance(capability, str) or not isinstance(name, str):
            raise PluginError(f"plugin {self.name!r} sent a registration that is not two strings")
        with self._lock:
            self.registered.setdefault(capability, []).append(name)
        if self._on_registered is not None:
            self._on_registered(self.name, capability, name)

    # health ------------------------------------------------------------------------------

    def _health_loop(self, connection: Connection) -> None:
        while not connection.wait_closed(self.policy.health_interval):
            if not self._check_health(connection):
                return

    def _check_health(self, connection: Connection) -> bool:
        try:
            connection.call("ping", timeout=min(2.0, self.policy.call_timeout))
            return True
        except CallTimeout:
            with self._lock:
                current = connection is self._connection and self.state == "running"
            if current:
                self._fail(f"plugin {self.name!r}: did not answer a health check within "
                           f"{min(2.0, self.policy.call_timeout):g} s (stuck holding the GIL?); killing it")
                self._kill("was unresponsive")
                threading.Thread(target=self._restart, daemon=True).start()
            return False
        except ChannelClosed:
            return False

    # output ------------------------------------------------------------------------------

    def _capture_output(self, process: subprocess.Popen) -> None:
        self._output_threads = [
            threading.Thread(target=self._pump, args=(process.stdout, logging.INFO, False), daemon=True),
            threading.Thread(target=self._pump, args=(process.stderr, logging.WARNING, True), daemon=True),
        ]
        for thread in self._output_threads:
            thread.start()

    def _pump(self, stream, level: int, keep_tail: bool) -> None:
        """Log the host's output line by line, bounded in line length and in lines per second."""
        window_start, logged, dropped = time.monotonic(), 0, 0
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if keep_tail:
                self.stderr_tail.append(line)
                capture = self._stack_capture
                if capture is not None:
                    capture.append(line)
            now = time.monotonic()
            if now - window_start >= 1.0:
                if dropped:
                    self.log.warning("plugin %s: ... %d output lines dropped", self.name, dropped)
                window_start, logged, dropped = now, 0, 0
            if logged < LOG_LINES_PER_SECOND:
                logged += 1
                self.log.log(level, "plugin %s: %s", self.name, line)
            else:
                dropped += 1
        stream.close()
