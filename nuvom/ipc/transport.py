"""Byte transports: a connected socket, or a pair of file descriptors (pipes).

Reads block; writes never block forever: `send(data, timeout)` waits at most
`timeout` seconds for a peer that stopped reading and then raises `SendTimeout`,
so a hung peer cannot freeze its callers behind the send lock.
"""

from __future__ import annotations

import os
import select
import socket
import time

RECV_SIZE = 256 * 1024


class SendTimeout(OSError):
    """The peer did not read for `timeout` seconds while we had data to send."""


def _wait_writable(fd: int, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise SendTimeout("peer stopped reading")
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.poll(remaining * 1000)


class SocketTransport:
    """A connected stream socket (e.g. one end of `socket.socketpair()`)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        self.sock = sock
        self._buffer = memoryview(bytearray(RECV_SIZE))  # reused: a fresh 256 KiB per read costs more than the read

    def recv(self) -> memoryview:
        """The next bytes received (empty at end of stream), valid until the next `recv`."""
        return self._buffer[: self.sock.recv_into(self._buffer)]

    def send(self, data: bytes, timeout: float) -> None:
        view = memoryview(data)
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

    def recv(self) -> bytes:
        ready, _, _ = select.select([self.read_fd, self._wake_r], [], [])
        if self._wake_r in ready:
            return b""
        return os.read(self.read_fd, RECV_SIZE)

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
