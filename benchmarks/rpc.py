"""RPC cost between two processes: nuvom.ipc Connection vs a raw pipe vs multiprocessing.managers.

    python benchmarks/rpc.py [--quick]

Everything is measured in this one run, between this process and a child:

- raw: the request's exact bytes written with os.write and echoed back with
  os.read/os.write over a socketpair: the floor any RPC over a pipe pays.
- Connection: `call("echo", payload)` through the full Connection (its caller,
  its background workers, the peer's workers), with a ~200-byte Job and with
  64 KiB of bytes, one call outstanding; the same with reads that never poll
  before sleeping (`SocketTransport(spin=False)` on both sides), to show what
  polling buys and costs; the same with both processes pinned to one CPU (as when
  busy processes outnumber cores: polling must not hold the CPU the peer needs);
  64 calls in flight (pipelined), as 64 single `call_async` calls in a sliding
  window and as two `call_many_async` batches of 32; and 8 threads each calling one
  at a time, contending for reading.
- bare: the loop the targets were set against: one thread per side, the same
  codec and framing, blocking reads, no locks, no multiplexing; and the same loop
  with plain msgpack (the job as a plain array: no ext type, no Job objects, no
  limits or checks), the least Python can do per message.
- managers: a `multiprocessing.managers` proxy's method call with the same Job dict.

CPU per call is both processes' CPU time over the one-at-a-time run, divided
by the calls: polling before sleeping trades CPU for latency. Over the pipelined
run it bounds throughput: two processes cannot use more than two cores, so no
pipelining can beat 2 s of CPU per second over the CPU per call (the "ceiling").

Targets (ratios printed at the end): small-call latency <= 2x raw; pipelined
throughput >= 10x the one-at-a-time rate and >= 10x the managers proxy.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.managers import BaseManager
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nuvom.ipc import Connection  # noqa: E402
from nuvom.ipc import codec, framing  # noqa: E402
from nuvom.ipc.transport import SocketTransport  # noqa: E402
from nuvom.job import Job  # noqa: E402


def small_job() -> Job:
    return Job("resize_image", args=["s3://bucket/photos/2026/11/cat.jpg", 640, 480], kwargs={"quality": 85})


# children ------------------------------------------------------------------------------


def child_rpc(fd: int, mode: str) -> None:
    transport = SocketTransport(socket.socket(fileno=fd), spin=mode != "pool-nospin")
    connection = Connection(transport=transport, name="benchmark parent")
    connection.register("echo", lambda value: value, inline=mode == "inline")
    connection.start()
    connection.wait_closed()


def bare_codec(plain: bool):
    """(feed, packer) for the bare loop: nuvom's codec and framing, or plain msgpack with no checks at all."""
    if not plain:
        return framing.MessageReader().feed, codec.new_packer()
    unpacker = msgpack.Unpacker(raw=False)

    def feed(data) -> list:
        unpacker.feed(data)
        return [framing.Request(*message[1:]) if message[0] == framing.REQUEST else framing.Response(*message[1:])
                for message in unpacker]

    return feed, msgpack.Packer()


def child_bare(fd: int, plain: bool) -> None:
    sock = socket.socket(fileno=fd)
    feed, packer = bare_codec(plain)
    buffer = bytearray(256 * 1024)
    while True:
        received = sock.recv_into(buffer)
        if not received:
            return
        requests = feed(memoryview(buffer)[:received])
        sock.sendall(b"".join(framing.response(packer, request.msgid, None, request.params[0]) for request in requests))


def child_raw(fd: int, size: int) -> None:
    sock = socket.socket(fileno=fd)
    read_fd = sock.fileno()
    while True:
        got = b""
        while len(got) < size:
            chunk = os.read(read_fd, size - len(got))
            if not chunk:
                return
            got += chunk
        os.write(read_fd, got)


# measurements --------------------------------------------------------------------------


def spawn(args: list[str]) -> tuple[socket.socket, subprocess.Popen]:
    parent, child = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, __file__, *args, str(child.fileno())], pass_fds=[child.fileno()]
    )
    child.close()
    return parent, process


def latencies(call, payload, count: int, pid: int) -> tuple[list[float], float]:
    """Round trips in us after a warm-up, and the CPU of this process and `pid` per call in us."""
    for _ in range(min(200, count)):
        call(payload)
    cpu_before = time.process_time() + cpu_seconds(pid)
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call(payload)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples, (time.process_time() + cpu_seconds(pid) - cpu_before) / count * 1e6


def raw_latencies(payload_bytes: bytes, count: int) -> tuple[list[float], float]:
    sock, process = spawn(["--child-raw", str(len(payload_bytes))])
    fd = sock.fileno()

    def ping(data: bytes) -> None:
        os.write(fd, data)
        got = 0
        while got < len(data):
            got += len(os.read(fd, len(data) - got))

    try:
        return latencies(ping, payload_bytes, count, process.pid)
    finally:
        sock.close()
        process.wait(5)


def bare_numbers(payload, count: int, plain: bool = False) -> tuple[list[float], float]:
    """A single-threaded msgpack-RPC loop on each side, blocking reads: (latencies, 64-in-flight rate).

    `plain`: plain msgpack, no limits, no checks, no ext types (pass the job as a plain array).
    """
    sock, process = spawn(["--child-bare", "plain" if plain else "codec"])
    feed, packer = bare_codec(plain)
    buffer = bytearray(256 * 1024)
    msgids = itertools.count()

    def answers() -> list:
        got: list = []
        while not got:
            got = feed(memoryview(buffer)[: sock.recv_into(buffer)])
        return got

    def call(value) -> None:
        sock.sendall(framing.request(packer, next(msgids) & framing.MAX_MSGID, "echo", [value]))
        answers()

    try:
        samples = latencies(call, payload, count, process.pid)[0]
        total = count * 10
        sock.sendall(b"".join(framing.request(packer, next(msgids) & framing.MAX_MSGID, "echo", [payload])
                              for _ in range(64)))
        started, done, sent = time.perf_counter(), 0, 64
        while done < total:
            got = len(answers())
            done += got
            more = min(got, total - sent)
            if more > 0:
                sent += more
                sock.sendall(b"".join(framing.request(packer, next(msgids) & framing.MAX_MSGID, "echo", [payload])
                                      for _ in range(more)))
        return samples, done / (time.perf_counter() - started)
    finally:
        sock.close()
        process.wait(5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Numbers:
    """One Connection configuration's measurements."""

    samples: list[float]  # round trips, us
    serial: float  # calls/s, one at a time
    cpu_per_call: float  # us of both processes' CPU, one at a time
    window: float  # calls/s, 64 single calls in flight
    batches: float  # calls/s, two batches of 32 in flight
    batch_cpu_per_call: float  # us of both processes' CPU, two batches of 32 in flight
    threads: float  # calls/s, 8 threads each calling one at a time (callers contending for reading)


def connection_numbers(payload, count: int, mode: str, pipelined: bool = True) -> Numbers:
    """mode: "pool" or "inline" handler in the child, or "pool-nospin" (no polling on either side)."""
    sock, process = spawn(["--child-rpc", mode])
    connection = Connection(transport=SocketTransport(sock, spin=mode != "pool-nospin"), name="benchmark child")
    connection.start()
    try:
        samples, cpu_per_call = latencies(lambda value: connection.call("echo", value), payload, count, process.pid)
        started = time.perf_counter()
        for _ in range(count):
            connection.call("echo", payload)
        elapsed = time.perf_counter() - started
        window_rate = batch_rate = batch_cpu = threads_rate = 0.0
        if pipelined:
            threads_rate = threads_calling(lambda: connection.call("echo", payload), 8, count)
            window_rate = sliding_window(lambda: [connection.call_async("echo", payload)], 64, count * 10)
            batch = [("echo", (payload,))] * 32
            cpu_before = time.process_time() + cpu_seconds(process.pid)
            batch_rate = sliding_window(lambda: connection.call_many_async(batch), 2, count * 10)
            batch_cpu = (time.process_time() + cpu_seconds(process.pid) - cpu_before) / (count * 10 + 64) * 1e6
        return Numbers(samples, count / elapsed, cpu_per_call, window_rate, batch_rate, batch_cpu, threads_rate)
    finally:
        connection.close()
        process.wait(5)


def threads_calling(call, threads: int, calls_each: int) -> float:
    """Calls per second with `threads` threads each making `calls_each` calls one after the other."""
    workers = [threading.Thread(target=lambda: [call() for _ in range(calls_each)]) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * calls_each / (time.perf_counter() - started)


def one_cpu_latencies(payload, count: int) -> list[float] | None:
    """Round trips with both processes on one CPU (as with more busy processes than cores): polling must yield."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})  # the child inherits it
    try:
        return connection_numbers(payload, count, "pool", pipelined=False).samples
    finally:
        os.sched_setaffinity(0, allowed)


def sliding_window(send, depth: int, total: int) -> float:
    """Calls per second with `depth` sends (each of one or more calls) always in flight."""
    window = [send() for _ in range(depth)]
    per_send = len(window[0])
    started = time.perf_counter()
    for _ in range(total // per_send):
        for call in window.pop(0):
            call.result()
        window.append(send())
    for calls in window:
        for call in calls:
            call.result()
    return (total // per_send + depth) * per_send / (time.perf_counter() - started)


class Echo:
    def echo(self, value):
        return value


class EchoManager(BaseManager):
    pass


EchoManager.register("Echo", Echo)


def managers_rate(payload, count: int) -> float:
    with EchoManager() as manager:
        proxy = manager.Echo()
        for _ in range(100):
            proxy.echo(payload)
        started = time.perf_counter()
        for _ in range(count):
            proxy.echo(payload)
        return count / (time.perf_counter() - started)


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 1000 if args.quick else 5000

    job = small_job()
    big = os.urandom(64 * 1024)
    packer = codec.new_packer()
    small_wire = framing.request(packer, 1, "echo", [job])
    big_wire = framing.request(packer, 1, "echo", [big])

    raw_samples, raw_cpu = raw_latencies(small_wire, count)
    raw_small = summary(raw_samples)
    raw_big = summary(raw_latencies(big_wire, count // 5)[0])
    bare_samples, bare_pipelined = bare_numbers(job, count)
    plain_pipelined = bare_numbers(list(job.to_values()), count // 5, plain=True)[1]
    pool = connection_numbers(job, count, "pool")
    inline = connection_numbers(job, count, "inline")
    nospin = connection_numbers(job, count, "pool-nospin", pipelined=False)
    pool_big = connection_numbers(big, count // 5, "pool", pipelined=False)
    one_cpu = one_cpu_latencies(job, count)
    proxy = managers_rate(job.to_dict(), count // 2)

    def row(label, stats):
        return f"  {label:48} median {stats[0]:8.1f} us   p99 {stats[1]:8.1f} us"

    print(f"round trip, one call outstanding ({len(small_wire)}-byte request / 64 KiB request)")
    print(row("raw os.write/os.read ping-pong, small", raw_small))
    print(row("bare single-threaded msgpack-RPC loop, small", summary(bare_samples)))
    print(row("Connection.call, small (handler pool)", summary(pool.samples)))
    print(row("Connection.call, small (inline handler)", summary(inline.samples)))
    print(row("Connection.call, small (pool, reads never poll)", summary(nospin.samples)))
    if one_cpu:
        print(row("Connection.call, small (pool, both on one CPU)", summary(one_cpu)))
    print(row("raw os.write/os.read ping-pong, 64 KiB", raw_big))
    print(row("Connection.call, 64 KiB (handler pool)", summary(pool_big.samples)))
    print("CPU of both processes per small call")
    print(f"  {'raw ping-pong, one at a time':56} {raw_cpu:8.1f} us")
    print(f"  {'Connection, one at a time (handler pool)':56} {pool.cpu_per_call:8.1f} us")
    print(f"  {'Connection, one at a time (pool, never poll)':56} {nospin.cpu_per_call:8.1f} us")
    print(f"  {'Connection, 2 batches of 32 in flight (pool)':56} {pool.batch_cpu_per_call:8.1f} us")
    print("calls per second")
    for label, numbers in (("handler pool", pool), ("inline handler", inline)):
        print(f"  {'Connection, one at a time (' + label + ')':56} {numbers.serial:>10,.0f}")
        print(f"  {'Connection, 64 single calls in flight (' + label + ')':56} {numbers.window:>10,.0f}")
        print(f"  {'Connection, 2 batches of 32 in flight (' + label + ')':56} {numbers.batches:>10,.0f}")
        print(f"  {'Connection, 8 threads each one at a time (' + label + ')':56} {numbers.threads:>10,.0f}")
    print(f"  {'Connection, one at a time (pool, never poll)':56} {nospin.serial:>10,.0f}")
    print(f"  {'bare msgpack-RPC loop, 64 in flight':56} {bare_pipelined:>10,.0f}")
    print(f"  {'bare loop, plain msgpack (no Job), 64 in flight':56} {plain_pipelined:>10,.0f}")
    print(f"  {'multiprocessing.managers proxy':56} {proxy:>10,.0f}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ceiling = min(cores, 2) * 1e6 / pool.batch_cpu_per_call  # two processes use at most two cores

    def ratio(label: str, value: float, target: str = "") -> None:
        print(f"  {label:56} {value:6.2f}x   {target}".rstrip())

    print("ratios (target)")
    ratio("small latency, pool / raw", summary(pool.samples)[0] / raw_small[0], "(<= 2)")
    ratio("small latency, inline / raw", summary(inline.samples)[0] / raw_small[0], "(<= 2)")
    ratio("small latency, pool never polling / raw", summary(nospin.samples)[0] / raw_small[0])
    ratio("64 KiB latency, pool / raw", summary(pool_big.samples)[0] / raw_big[0])
    ratio("batches in flight / one at a time (pool)", pool.batches / pool.serial, "(>= 10)")
    ratio("  ceiling set by CPU per pipelined call / one at a time", ceiling / pool.serial)
    ratio("  bare plain-msgpack loop in flight / one at a time", plain_pipelined / pool.serial)
    ratio("  batches in flight / one at a time never polling", pool.batches / nospin.serial)
    ratio("single calls in flight / one at a time", pool.window / pool.serial)
    ratio("batches in flight (pool) / managers", pool.batches / proxy, "(>= 10)")
    ratio("single calls in flight (pool) / managers", pool.window / proxy)
    ratio("batches in flight (pool) / bare loop", pool.batches / bare_pipelined)
    ratio("one at a time (pool) / bare loop's", pool.serial / (1e6 / summary(bare_samples)[0]))

if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child-rpc":
        child_rpc(int(sys.argv[3]), sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "--child-bare":
        child_bare(int(sys.argv[3]), sys.argv[2] == "plain")
    elif len(sys.argv) >= 4 and sys.argv[1] == "--child-raw":
        child_raw(int(sys.argv[3]), int(sys.argv[2]))
    else:
        main()
