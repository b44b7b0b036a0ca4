"""Byte transports: a connected socket, or a pair of file descriptors (pipes).

`recv(timeout)` blocks until bytes arrive (None after `timeout` seconds); writes
never block forever: `send(data, timeout)` waits at most `timeout` seconds for a
peer that stopped reading and then raises `SendTimeout`, so a hung peer cannot
freeze its callers behind the send lock. `hangup_fd()` is the descriptor to poll
for the peer going away (POLLHUP/POLLRDHUP) without being woken by its data.

`SocketTransport.recv` polls briefly before it sleeps (adaptive spinning): on a
virtual machine, waking a thread blocked in `recv` costs several times what the
peer needs to answer, and while the two sides talk back and forth, the next
message usually comes within tens of microseconds. It keeps a running average of
how long it waited for data; while that is under `SPIN_WHEN_TYPICAL_UNDER_NS`, it
polls for up to twice that average (at most `MAX_SPIN_NS`) before sleeping, and an
idle or slow peer, whose messages come further apart, costs no polling at all.

It yields the CPU between polls. Linux tends to wake the peer on the CPU of the
thread that woke it (ours, just after sending), and without the yield our poll held
that CPU until it gave up: the two processes then took turns on one CPU, each call
paid a whole poll (~480 us instead of ~27 us here), and this lasted until the
scheduler moved one of them, about 10 ms later.
"""

from __future__ import annotations

import os
import select
import socket
import time
from time import perf_counter_ns

RECV_SIZE = 256 * 1024
MAX_SPIN_NS = 200_000  # poll for at most 200 us before sleeping in recv
SPIN_WHEN_TYPICAL_UNDER_NS = 500_000
_WAIT_CAP_NS = 10_000_000  # one long idle gap counts as 10 ms in the running average


class SendTimeout(OSError):
    """The peer did not read for `timeout` seconds while we had data to send."""


def _readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(timeout, 0) * 1000))


def _wait_writable(fd: int, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise SendTimeout("peer stopped reading")
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.poll(remaining * 1000)


class SocketTransport:
    """A connected stream socket (e.g. one end of `socket.socketpair()`)."""

    def __init__(self, sock: socket.socket, *, spin: bool = True) -> None:
        sock.setblocking(True)
        self.sock = sock
        self._buffer = memoryview(bytearray(RECV_SIZE))  # reused: a fresh 256 KiB per read costs more than the read
        self._spin = spin
        self._typical_wait_ns = _WAIT_CAP_NS  # running average of recv's waits; no polling until it is short

    def recv(self, timeout: float | None = None, *, spin: bool = True) -> memoryview | None:
        """The next bytes received (empty at end of stream; None after `timeout` s), valid until the next `recv`.

        Only one thread may call it at a time. `spin=False` sleeps at once: polling
        takes the GIL back and forth from a thread of ours that has work to do.
        """
        buffer, recv_into = self._buffer, self.sock.recv_into
        started = perf_counter_ns()
        received = -1
        typical = self._typical_wait_ns
        if spin and self._spin and typical < SPIN_WHEN_TYPICAL_UNDER_NS:
            deadline = started + min(2 * typical + 10_000, MAX_SPIN_NS)
            while True:
                try:
                    received = recv_into(buffer, 0, socket.MSG_DONTWAIT)
                    break
                except BlockingIOError:
                    if perf_counter_ns() >= deadline:
                        break
                    os.sched_yield()  # the peer may have been woken onto this CPU: let it answer
        if received < 0:
            if timeout is not None and not _readable(self.sock.fileno(), timeout):
                return None
            received = recv_into(buffer)
        waited = min(perf_counter_ns() - started, _WAIT_CAP_NS)
        self._typical_wait_ns = typical + ((waited - typical) >> 3)
        return buffer[:received]

    def hangup_fd(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes, timeout: float) -> None:
        try:
            sent = self.sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        deadline = time.monotonic() + timeout
        while view:
            try:
                sent = self.sock.send(view, socket.MSG_DONTWAIT)
            except BlockingIOError:
                _wait_writable(self.sock.fileno(), deadline)
                continue
            view = view[sent:]

    def shutdown(self) -> None:
        """Wake a blocked `recv` (it returns b"") and stop further sends."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


class PipeTransport:
    """A read fd and a write fd (e.g. two pipes); the write fd is made non-blocking."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        os.set_blocking(write_fd, False)
        self._wake_r, self._wake_w = os.pipe()

    def recv(self, timeout: float | None = None, *, spin: bool = False) -> bytes | None:
        """The next bytes read (empty at end of stream or after `shutdown`; None after `timeout` s).

        Pipes never poll before sleeping; `spin` is accepted for the common interface.
        """
        ready, _, _ = select.select([self.read_fd, self._wake_r], [], [], None if timeout is None else max(timeout, 0))
        if self._wake_r in ready:
            return b""
        if not ready:
            return None
        return os.read(self.read_fd, RECV_SIZE)

    def hangup_fd(self) -> int:
        return self.read_fd

    def send(self, data: bytes, timeout: float) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            try:
                sent = os.write(self.write_fd, view)
            except BlockingIOError:
                _wait_writable(self.write_fd, deadline)
                continue
            view = view[sent:]

    def shutdown(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
