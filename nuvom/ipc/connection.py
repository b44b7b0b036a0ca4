"""`Connection`: a bidirectional, multiplexed, thread-safe MessagePack-RPC session.

Either side can call the other. Callers write their request straight to the
transport (one send per message, or one per batch with `call_many_async`).

Reading is a token held by one thread at a time (leader/follower), so no message
waits for a thread hand-off:

- A caller waiting for its answer while nobody reads takes the token and reads
  the socket itself, routing whatever arrives on the way (other callers' answers,
  the peer's calls). Callers that find the token taken sleep until their answer is
  routed, or until the reader leaves and hands the token to the oldest of them.
- Background workers hold the token while no caller does: they serve the peer's
  calls and notice a dead peer while the side is idle. After answering callers,
  they park (watching only for the peer hanging up) and take reading back after
  `PARKED_SECONDS` without a caller.
- A worker that reads an incoming call runs it itself once the read is routed;
  meanwhile a parked worker reads. Calls start in arrival order; one that hangs
  delays the next by at most `PARKED_SECONDS` and then blocks only its own caller.
  A new worker starts when every worker is busy (up to `MAX_HANDLER_THREADS`).
  Handlers registered with `inline=True` run right where they are read.

Every failure becomes one typed error: `RemoteError` (the peer's handler raised),
`CallTimeout`, `ChannelClosed` (with the reason), `ProtocolViolation` (the peer
sent garbage; the channel is closed), `EncodeError` (we could not send a value).
When the channel closes, for whatever reason, every pending call fails at once
and new calls fail immediately.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import select
import socket
import threading
import time
from typing import Any, Callable, Iterable, Sequence

from nuvom.ipc import codec, framing
from nuvom.ipc.codec import RemoteErrorInfo
from nuvom.ipc.errors import CallTimeout, ChannelClosed, EncodeError, ProtocolViolation, RemoteError
from nuvom.ipc.limits import Limits
from nuvom.ipc.transport import PipeTransport, SendTimeout, SocketTransport

log = logging.getLogger("nuvom.ipc")

Handler = Callable[..., Any]
DEFAULT_SEND_TIMEOUT = 30.0
MAX_HANDLER_THREADS = 64
# How long a parked worker sleeps while it may be needed: the longest a message from the
# peer waits to be read while our callers are busy but none is reading at that moment,
# and the longest queued calls wait behind one that is stuck. (A peer that hangs up
# wakes parked workers at once.)
PARKED_SECONDS = 0.01
MAX_PARKED_SECONDS = 1.0  # while a worker reads and nothing runs, parked workers wake this rarely
_HANGUP = select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)


class PendingCall:
    """A request in flight; `result(timeout)` waits for its response."""

    __slots__ = ("_connection", "msgid", "method", "_done", "_value", "_error", "_wakeup")

    def __init__(self, connection: "Connection", msgid: int, method: str) -> None:
        self._connection = connection
        self.msgid = msgid
        self.method = method
        self._done = threading.Lock()
        self._done.acquire()
        self._value: Any = None
        self._error: BaseException | None = None
        self._wakeup: threading.Lock | None = None  # its caller sleeps on it while another thread reads

    def _resolve(self, value: Any, error: BaseException | None) -> None:
        self._value = value
        self._error = error
        self._done.release()

    def done(self) -> bool:
        return not self._done.locked()

    def result(self, timeout: float | None = None) -> Any:
        """The call's result; raises its error, or `CallTimeout` after `timeout` seconds."""
        if self._done.locked():
            self._connection._wait(self, timeout)
        if self._error is not None:
            raise self._error
        return self._value


class Connection:
    """One end of an RPC channel over a socket or a pair of file descriptors."""

    def __init__(
        self,
        sock: socket.socket | None = None,
        *,
        name: str = "peer",
        limits: Limits | None = None,
        handlers: dict[str, Handler] | None = None,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        transport: SocketTransport | PipeTransport | None = None,
    ) -> None:
        if transport is None:
            if sock is None:
                raise ValueError("Connection needs a socket or a transport")
            transport = SocketTransport(sock)
        self.name = name
        self._transport = transport
        self._limits = limits or Limits()
        self._send_timeout = send_timeout
        self._handlers: dict[str, tuple[Handler, bool]] = {}
        for method, handler in (handlers or {}).items():
            self.register(method, handler)
        self._pending: dict[int, PendingCall] = {}
        self._abandoned: set[int] = set()  # msgids whose caller timed out: a late answer is fine
        self._lock = threading.Lock()  # guards pending calls, waiting callers, queued tasks, workers, the park pipe
        self._msgids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._outbox: list[bytes] = []
        self._sending = False
        self._cork_owner: int | None = None  # a reader answering a received chunk: hold its inline answers
        self._read_token = threading.Lock()  # held by the one thread reading the transport
        self._message_reader = framing.MessageReader(self._limits)
        self._waiters: dict[int, PendingCall] = {}  # callers asleep while another thread reads, oldest first
        self._answers_routed = 0
        self._park_r, park_w = os.pipe()  # wakes the parked background reader
        self._park_w: int | None = park_w
        os.set_blocking(self._park_r, False)
        os.set_blocking(park_w, False)
        self._start_lock = threading.Lock()
        self._local = threading.local()
        self._tasks: collections.deque[tuple[Handler | None, str, list, int | None]] = collections.deque()
        self._workers = 1  # background threads; the first is `_reader`, more start when all are busy
        self._busy = 0  # workers running a handler
        self._last_task_start = 0.0
        self._reading_worker: int | None = None  # the worker holding the read token, if one does
        self._dozing = False  # a parked worker sleeps long: wake it when a handler starts
        self._transport_closing = False
        self._close_callbacks: list[Callable[[str], None]] = []
        self._closed = threading.Event()
        self._close_reason: str | None = None
        self._close_lock = threading.Lock()
        self._reader = threading.Thread(target=self._work, args=(False,), name=f"ipc-{name}-reader", daemon=True)

    @classmethod
    def from_fd(cls, fd: int, **kwargs: Any) -> "Connection":
        """The child's end: a socket file descriptor inherited through `pass_fds`."""
        return cls(socket.socket(fileno=fd), **kwargs)

    @classmethod
    def from_fds(cls, read_fd: int, write_fd: int, **kwargs: Any) -> "Connection":
        """A connection over two file descriptors, e.g. a pair of pipes."""
        return cls(transport=PipeTransport(read_fd, write_fd), **kwargs)

    # setup and state ----------------------------------------------------------------------

    def register(self, method: str, handler: Handler, *, inline: bool = False) -> None:
        """Serve `method`: `handler(*params)`'s return value (or exception) answers the caller.

        Calls start in arrival order on the thread that read them (see `_work`).
        `inline=True` runs the handler right where it is read, before the rest of that
        read is routed: only for handlers that never block, since the channel reads
        nothing else while it runs.
        """
        self._handlers[method] = (handler, inline)

    def start(self) -> "Connection":
        """Start the background reader (after registering handlers); a no-op once started."""
        with self._start_lock:
            if self._reader.ident is None:
                self._reader.start()
        return self

    def on_close(self, callback: Callable[[str], None]) -> None:
        """Call `callback(reason)` once when the channel closes (at once if it already has)."""
        with self._close_lock:
            if self._close_reason is None:
                self._close_callbacks.append(callback)
                return
        callback(self._close_reason)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def close_reason(self) -> str | None:
        return self._close_reason

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._closed.wait(timeout)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # calling the peer ---------------------------------------------------------------------

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Call `method` on the peer and wait for its result."""
        return self.call_async(method, *params).result(timeout)

    def call_async(self, method: str, *params: Any) -> PendingCall:
        """Send a request now; wait for it later with `.result(timeout)` (pipelining)."""
        return self.call_many_async(((method, params),))[0]

    def call_many(self, calls: Iterable[tuple[str, Sequence[Any]]], timeout: float | None = None) -> list[Any]:
        """Send every request in one write, then wait for all; raise the first error after all ended."""
        pending = self.call_many_async(calls)
        results: list[Any] = []
        first_error: BaseException | None = None
        for call in pending:
            try:
                results.append(call.result(timeout))
            except (RemoteError, CallTimeout, ChannelClosed) as error:
                results.append(None)
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return results

    def notify(self, method: str, *params: Any) -> None:
        """Send a notification (no response)."""
        self._check_open()
        try:
            data = framing.notification(self._packer(), method, list(params))
        except (TypeError, ValueError, OverflowError) as error:
            raise self._encode_error(method, error) from None
        self._send(data)

    def _packer(self):
        packer = getattr(self._local, "packer", None)
        if packer is None:
            packer = self._local.packer = codec.new_packer()
        return packer

    def _drop_packer(self) -> None:
        self._local.packer = None  # a failed pack may leave the packer's buffer dirty

    def _encode_error(self, method: str, error: Exception) -> EncodeError:
        self._drop_packer()
        return EncodeError(f"cannot send call {method!r}: {error} cannot be encoded")

    def call_many_async(self, calls: Iterable[tuple[str, Sequence[Any]]]) -> list[PendingCall]:
        """Send every request in one write now; wait for each later with `.result(timeout)`.

        Batches in flight one behind the other pipeline best: each costs one write on
        this side and, usually, one read and one write on the peer's.
        """
        calls = list(calls)
        self._check_open()
        with self._lock:
            msgids = [self._next_msgid() for _ in calls]
        packer = self._packer()
        chunks: list[bytes] = []
        for msgid, (method, params) in zip(msgids, calls):  # outside the lock: a big batch takes a while
            try:
                chunks.append(framing.request(packer, msgid, method, list(params)))
            except (TypeError, ValueError, OverflowError) as error:
                raise self._encode_error(method, error) from None
        pending = [PendingCall(self, msgid, method) for msgid, (method, _params) in zip(msgids, calls)]
        with self._lock:  # only once all are encoded: none is left waiting for a request never sent
            self._check_open()  # close() fails what is registered before it, and nothing after
            for call in pending:
                self._pending[call.msgid] = call
        try:
            self._send(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        except ChannelClosed:
            pass  # close() already failed every pending call, ours included
        return pending

    def _next_msgid(self) -> int:
        while True:
            msgid = next(self._msgids) & framing.MAX_MSGID
            if msgid not in self._pending and msgid not in self._abandoned:
                return msgid

    def _send(self, data: bytes, *, cork: bool = False) -> None:
        """Queue `data` and, unless another thread is already sending, send everything queued.

        Flush combining: while one thread is in the send syscall, others only append,
        and the sender picks their bytes up in its next write, so concurrent responses
        and requests share syscalls without a writer thread or added latency.
        `cork=True` only queues while incoming calls are queued: whoever runs the last of
        them sends what was held back (see `_run_tasks`).
        """
        with self._send_lock:
            self._check_open()
            if self._sending or (cork and self._tasks) or self._cork_owner == threading.get_ident():
                self._outbox.append(data)
                return
            self._sending = True
            if self._outbox:
                self._outbox.append(data)
                data = b"".join(self._outbox)
                self._outbox.clear()
        self._drain_outbox(data)

    def _flush(self) -> None:
        """Send what the corked reader queued, unless another thread is already sending."""
        with self._send_lock:
            if self._sending or not self._outbox or self._close_reason is not None:
                return
            self._sending = True
        try:
            self._drain_outbox(b"")
        except ChannelClosed:
            pass

    def _drain_outbox(self, chunk: bytes) -> None:
        """Send `chunk`, then what others queued meanwhile, until none is left (the sending thread only)."""
        while True:
            if chunk:
                self._send_chunk(chunk)
            with self._send_lock:
                if not self._outbox or self._close_reason is not None:
                    self._sending = False
                    self._outbox.clear()
                    return
                chunk = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
                self._outbox.clear()

    def _send_chunk(self, chunk: bytes) -> None:
        try:
            self._transport.send(chunk, self._send_timeout)
        except SendTimeout:
            self._fail_send(f"{self.name} stopped reading: a send blocked for {self._send_timeout:g} s")
        except OSError as error:
            self._fail_send(f"cannot write to {self.name}: {error}")

    def _fail_send(self, reason: str) -> None:
        with self._send_lock:
            self._sending = False
        self.close(reason)
        raise ChannelClosed(self._close_reason or reason)

    def _check_open(self) -> None:
        if self._close_reason is not None:
            raise ChannelClosed(self._close_reason)

    def _abandon(self, msgid: int) -> bool:
        """A caller timed out: forget its call; False if its response already arrived or the
        channel is closing (close() fails the call with the reason, not with a timeout)."""
        with self._lock:
            if self._close_reason is not None or self._pending.pop(msgid, None) is None:
                return False
            self._abandoned.add(msgid)
            return True

    # reading ------------------------------------------------------------------------------

    def _wait(self, call: PendingCall, timeout: float | None) -> None:
        """Block until `call` is answered: read the transport ourselves if nobody is, else sleep.

        A sleeping caller wakes when its answer is routed, or when the reader leaves and
        promotes it to read (one wake-up, where waking a parked worker to read and that
        worker waking the caller would be two). Raises `CallTimeout` once `timeout`
        seconds have passed without an answer.
        """
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0)
        while True:
            with self._lock:
                if call.done():
                    return
                leading = self._read_token.acquire(blocking=False)
                shared = not leading and call.msgid in self._waiters  # another thread waits for this call
                if not leading and not shared:
                    if call._wakeup is None:
                        call._wakeup = threading.Lock()
                        call._wakeup.acquire()
                    self._waiters[call.msgid] = call
            remaining = -1 if deadline is None else max(deadline - time.monotonic(), 0)
            if leading:
                try:
                    while call._done.locked():
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            break
                        if not self._read_chunk(remaining):
                            break
                finally:
                    self._step_down()
                if call.done():
                    return
            elif shared:
                if call._done.acquire(timeout=remaining):
                    call._done.release()
                    return
            elif call._wakeup.acquire(timeout=remaining):  # type: ignore[union-attr]
                continue  # answered (the loop returns), or promoted to read (the loop leads)
            else:
                with self._lock:
                    registered = self._waiters.pop(call.msgid, None) is not None
                if not registered:  # answered or promoted just as we gave up: take that wake-up
                    call._wakeup.acquire()  # type: ignore[union-attr]
                    if call.done():
                        return
                    with self._lock:  # promoted, but out of time: pass reading on
                        self._promote_waiter()
            break
        if self._abandon(call.msgid):
            raise CallTimeout(call.method, timeout, self.name)
        call._done.acquire()  # the answer won the race: it is being resolved
        call._done.release()

    def _step_down(self) -> None:
        """Give the read token back; promote the oldest sleeping caller to read, if any."""
        with self._lock:
            self._reading_worker = None
            self._read_token.release()
            self._promote_waiter()

    def _promote_waiter(self) -> None:
        """(Holding `_lock`.) Wake the oldest caller still waiting for a reader: it reads next."""
        if self._waiters:
            call = self._waiters.pop(next(iter(self._waiters)))
            call._wakeup.release()  # type: ignore[union-attr]

    def _wake_parked(self) -> None:
        """Wake the parked workers (called holding `_lock`, which guards the pipe)."""
        if self._park_w is not None:
            try:
                os.write(self._park_w, b"x")
            except BlockingIOError:
                pass  # a wake-up is already pending

    def _read_chunk(self, timeout: float | None) -> bool:
        """Read once (the caller holds the token) and route what arrived; False once closed."""
        if self._close_reason is not None:
            return False
        try:
            data = self._transport.recv(timeout, spin=not self._busy)  # never poll against our own handlers
        except OSError as error:
            self.close(f"reading from {self.name} failed: {error}")
            return False
        if data is None:
            return True
        if not data:
            self.close(f"{self.name} closed the connection (EOF)")
            return False
        try:
            messages = self._message_reader.feed(data)
            if len(messages) == 1:
                self._route(messages[0])
            else:
                self._cork_owner = threading.get_ident()
                try:
                    for message in messages:
                        self._route(message)
                finally:
                    self._cork_owner = None
                self._flush()
        except framing.FramingError as error:
            self.close(f"protocol violation by {self.name}: {error}", violation=True)
            return False
        return True

    # background workers ---------------------------------------------------------------------

    def _work(self, spare: bool) -> None:
        """A background thread: runs queued incoming calls in order, reads while nobody else
        does, parks otherwise. A worker that reads a call runs it itself, with no hand-off;
        if it takes a while, a parked worker takes reading (and then the queue) over.
        """
        interval = PARKED_SECONDS
        parked = spare  # a spare reads, or helps only where the queue is stuck
        defer_reading = False  # callers took reading over: leave it to them for a while
        try:
            while self._close_reason is None:
                if not parked and self._run_tasks():
                    interval = PARKED_SECONDS
                elif self._may_read(parked, defer_reading) and self._read_token.acquire(blocking=False):
                    defer_reading = self._read_as_worker()
                    parked, interval = False, PARKED_SECONDS
                elif parked and self._queue_stuck() and self._run_tasks():  # nobody else runs them: help
                    parked, interval = False, PARKED_SECONDS
                else:
                    woken, hangup = self._park(interval)
                    parked, defer_reading = True, False
                    if hangup:
                        self._read_token.acquire()  # the peer hung up: read (and see EOF) right away
                        self._read_as_worker()
                    elif woken:
                        interval = PARKED_SECONDS
                    elif self._nothing_to_watch():
                        interval = min(2 * interval, MAX_PARKED_SECONDS)
        except Exception as error:  # a bug here: say so, and fail every call instead of hanging them
            log.exception("a worker of the channel to %s failed", self.name)
            self.close(f"the channel to {self.name} failed: {type(error).__name__}: {error}")
        finally:
            with self._lock:
                closes_transport, self._transport_closing = not self._transport_closing, True
            if closes_transport:  # the first worker out, whichever: others may be stuck in handlers
                with self._read_token:  # a thread still reading sees the shutdown and leaves first
                    self._transport.close()
            with self._lock:
                self._workers -= 1
                if self._workers == 0:  # the last one out: nobody polls the park pipe any more
                    os.close(self._park_r)
                    os.close(self._park_w)
                    self._park_w = None

    def _run_tasks(self) -> bool:
        """Run queued incoming calls, oldest first, until none is left; False if there was none."""
        with self._lock:
            task, spawn = self._take_task()
        if task is None:
            return False
        while task is not None:
            if spawn:
                self._start_worker()
            if not self._tasks:
                self._flush()  # this call may hang: send the answers held back for it first
            try:
                self._serve(*task, cork=True)  # held back only while more calls are queued
            finally:
                with self._lock:
                    self._busy -= 1
                    task, spawn = self._take_task()
        return True

    def _take_task(self) -> tuple[tuple[Handler | None, str, list, int | None] | None, bool]:
        """(Holding `_lock`.) The oldest queued call, counted busy, and whether to start a spare worker."""
        if not self._tasks or self._close_reason is not None:
            return None, False
        task = self._tasks.popleft()
        self._busy += 1
        self._last_task_start = time.monotonic()
        if self._dozing:  # a long-parked worker must watch for this call hanging
            self._dozing = False
            self._wake_parked()
        return task, self._claim_spare_worker()

    def _claim_spare_worker(self) -> bool:
        """(Holding `_lock`.) True if every worker is busy and one more may start: count it now."""
        if self._busy < self._workers or self._workers >= MAX_HANDLER_THREADS or self._close_reason is not None:
            return False
        self._workers += 1
        return True

    def _start_worker(self) -> None:
        """Start a spare worker (already counted by `_claim_spare_worker`)."""
        try:
            threading.Thread(target=self._work, args=(True,), name=f"ipc-{self.name}-worker", daemon=True).start()
        except RuntimeError as error:  # out of threads (a host's memory_mb bounds its thread stacks)
            with self._lock:
                self._workers -= 1
            log.warning("channel to %s: cannot start another worker (%s); its calls wait for a busy one",
                        self.name, error)

    def _read_as_worker(self) -> bool:
        """Read (holding the token) until this worker should run queued calls, or callers read.

        It runs them when nobody else is, or when the queue has not moved for
        `PARKED_SECONDS` (a stuck handler). True when callers took reading over.
        """
        with self._lock:
            self._reading_worker = threading.get_ident()
        try:
            while True:
                answered = self._answers_routed
                if not self._read_chunk(PARKED_SECONDS if self._tasks else None):
                    return False
                if self._tasks and not self._busy:
                    return False  # run them: nobody else is
                if self._queue_stuck():
                    self._flush()  # a call is stuck: send the answers held back behind it
                    return False
                if self._answers_routed != answered:
                    with self._lock:
                        if not self._waiters:
                            return True
        finally:
            self._step_down()

    def _may_read(self, parked: bool, defer_reading: bool) -> bool:
        """Whether this worker should take the read token if it is free.

        Not while callers took reading over. A parked worker reads only if nobody will
        come back to reading soon: no worker runs a call, that call is stuck, or callers
        wait for a reader. (Taking over from a call that is about to end would cost the
        next message a sleeping thread's wake-up.)
        """
        if defer_reading:
            return False
        if not parked:
            return True
        return not self._busy or bool(self._waiters) or time.monotonic() - self._last_task_start >= PARKED_SECONDS

    def _queue_stuck(self) -> bool:
        """Calls are queued and nobody runs them: no worker is busy, or none started one for a tick."""
        return bool(self._tasks) and (
            not self._busy or time.monotonic() - self._last_task_start >= PARKED_SECONDS
        )

    def _nothing_to_watch(self) -> bool:
        """True while a worker reads and no call runs or waits: only a message can change that."""
        with self._lock:
            return self._reading_worker is not None and not self._busy and not self._tasks

    def _park(self, interval: float) -> tuple[bool, bool]:
        """Sleep until woken, `interval` seconds pass, or the peer hangs up: (woken, hung up)."""
        with self._lock:
            if self._park_w is None or self._close_reason is not None:
                return False, False
            self._dozing = interval > PARKED_SECONDS
        poller = select.poll()
        poller.register(self._park_r, select.POLLIN)  # open: this worker counts in `_workers`
        try:
            poller.register(self._transport.hangup_fd(), _HANGUP)
        except ValueError:  # the transport closed meanwhile
            return False, True
        woken = hangup = False
        for fd, _events in poller.poll(interval * 1000):
            if fd == self._park_r:
                woken = True
                try:
                    os.read(self._park_r, 4096)
                except BlockingIOError:
                    pass
            else:
                hangup = True
        return woken, hangup

    def _route(self, message: framing.Message) -> None:
        if type(message) is framing.Response:
            with self._lock:
                call = self._pending.pop(message.msgid, None)
                if call is None:
                    if message.msgid in self._abandoned:
                        self._abandoned.discard(message.msgid)
                        return
                    raise framing.FramingError(f"response to msgid {message.msgid}, which was never sent")
                sleeping = self._waiters.pop(message.msgid, None)
            self._answers_routed += 1
            if message.error is None:
                call._resolve(message.result, None)
            else:
                error = message.error
                call._resolve(None, RemoteError(call.method, self.name, error.type, error.message, error.traceback))
            if sleeping is not None:
                sleeping._wakeup.release()  # type: ignore[union-attr]
        elif type(message) is framing.Request:
            self._dispatch(message.method, message.params, message.msgid)
        else:
            self._dispatch(message.method, message.params, None)

    def _dispatch(self, method: str, params: list, msgid: int | None) -> None:
        """Run an inline handler now; queue any other call for a worker (see `_work`)."""
        handler, inline = self._handlers.get(method, (None, False))
        if inline and handler is not None:
            self._serve(handler, method, params, msgid)
            return
        with self._lock:
            if len(self._tasks) >= self._limits.max_queued_calls:
                raise framing.FramingError(
                    f"more than {self._limits.max_queued_calls} of its calls are waiting for a handler "
                    "(it sends them faster than they end)"
                )
            self._tasks.append((handler, method, params, msgid))
            if self._reading_worker == threading.get_ident():
                return  # this worker runs it as soon as it has routed the chunk
            self._wake_parked()  # a caller is reading: a worker must run it
            spawn = self._claim_spare_worker()
        if spawn:
            self._start_worker()

    def _serve(self, handler: Handler | None, method: str, params: list, msgid: int | None, cork: bool = False) -> None:
        """Run one incoming call and answer it (requests) or log its failure (notifications).

        `cork=True` holds the answer back for the next send while more calls are queued.
        """
        error: RemoteErrorInfo | None = None
        result = None
        if handler is None:
            error = RemoteErrorInfo("MethodNotFound", f"no method {method!r} is served here", "")
        else:
            try:
                result = handler(*params)
            except Exception as raised:
                error = RemoteErrorInfo.from_exception(raised)
        if msgid is None:
            if error is not None:
                log.warning("notification %r from %s failed: %s: %s", method, self.name, error.type, error.message)
            return
        packer = self._packer()
        try:
            data = framing.response(packer, msgid, error, result)
        except (TypeError, ValueError, OverflowError) as unencodable:
            self._drop_packer()
            refusal = RemoteErrorInfo("EncodeError", f"the result of {method!r}: {unencodable} cannot be encoded")
            data = framing.response(self._packer(), msgid, refusal, None)
        try:
            self._send(data, cork=cork)
        except ChannelClosed:
            pass

    # closing ------------------------------------------------------------------------------

    def close(self, reason: str = "closed locally", *, violation: bool = False) -> None:
        """Close the channel once: fail every pending call with the reason, wake the workers."""
        with self._close_lock:
            if self._close_reason is not None:
                return
            self._close_reason = reason
            callbacks, self._close_callbacks = self._close_callbacks, []
        error_type = ProtocolViolation if violation else ChannelClosed
        with self._lock:
            pending, self._pending = self._pending, {}
            sleeping = list(self._waiters.values())
            self._waiters.clear()
            self._wake_parked()
        for call in pending.values():
            call._resolve(None, error_type(reason))
        for call in sleeping:
            call._wakeup.release()  # type: ignore[union-attr]
        self._closed.set()
        self._transport.shutdown()
        if violation:
            log.error("%s", reason)
        self.start()  # a reader that was never started: it sees the channel closed and closes the transport
        for callback in callbacks:
            try:
                callback(reason)
            except Exception:
                log.exception("on_close callback of %s failed", self.name)
