"""RPC cost between two processes: nuvom.ipc Connection vs a raw pipe vs multiprocessing.managers.

    python benchmarks/rpc.py [--quick]

Everything is measured in this one run, between this process and a child:

- raw: the request's exact bytes written with os.write and echoed back with
  os.read/os.write over a socketpair: the floor any RPC over a pipe pays.
- Connection: `call("echo", payload)` through the full Connection (caller thread,
  reader thread, handler pool), with a ~200-byte Job and with 64 KiB of bytes,
  one call outstanding; and the same with 64 calls in flight (pipelined).
- managers: a `multiprocessing.managers` proxy's method call with the same Job dict.

Targets (ratios printed at the end): small-call latency <= 2x raw; pipelined
throughput >= 10x the one-at-a-time rate and >= 10x the managers proxy.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing.managers import BaseManager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nuvom.ipc import Connection  # noqa: E402
from nuvom.ipc import codec, framing  # noqa: E402
from nuvom.job import Job  # noqa: E402


def small_job() -> Job:
    return Job("resize_image", args=["s3://bucket/photos/2026/11/cat.jpg", 640, 480], kwargs={"quality": 85})


# children ------------------------------------------------------------------------------


def child_rpc(fd: int, inline: bool) -> None:
    connection = Connection.from_fd(fd, name="benchmark parent")
    connection.register("echo", lambda value: value, inline=inline)
    connection.start()
    connection.wait_closed()


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


def latencies(call, payload, count: int) -> list[float]:
    for _ in range(min(200, count)):
        call(payload)
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call(payload)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def raw_latencies(payload_bytes: bytes, count: int) -> list[float]:
    sock, process = spawn(["--child-raw", str(len(payload_bytes))])
    fd = sock.fileno()

    def ping(data: bytes) -> None:
        os.write(fd, data)
        got = 0
        while got < len(data):
            got += len(os.read(fd, len(data) - got))

    try:
        return latencies(ping, payload_bytes, count)
    finally:
        sock.close()
        process.wait(5)


def connection_numbers(payload, count: int, inline: bool) -> tuple[list[float], float, float]:
    """(latencies in us, one-at-a-time calls/s, 64-in-flight calls/s)."""
    sock, process = spawn(["--child-rpc", "inline" if inline else "pool"])
    connection = Connection(sock, name="benchmark child").start()
    try:
        samples = latencies(lambda value: connection.call("echo", value), payload, count)
        started = time.perf_counter()
        for _ in range(count):
            connection.call("echo", payload)
        serial = count / (time.perf_counter() - started)
        window = [connection.call_async("echo", payload) for _ in range(64)]
        total = count * 10
        started = time.perf_counter()
        for _ in range(total):
            window.pop(0).result()
            window.append(connection.call_async("echo", payload))
        for call in window:
            call.result()
        pipelined = total / (time.perf_counter() - started)
        return samples, serial, pipelined
    finally:
        connection.close()
        process.wait(5)


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

    raw_small = summary(raw_latencies(small_wire, count))
    raw_big = summary(raw_latencies(big_wire, count // 5))
    pooled_small, pooled_serial, pooled_pipelined = connection_numbers(job, count, inline=False)
    inline_small, inline_serial, inline_pipelined = connection_numbers(job, count, inline=True)
    pooled_big = connection_numbers(big, count // 5, inline=False)[0]
    proxy = managers_rate(job.to_dict(), count // 2)

    def row(label, stats):
        return f"  {label:44} median {stats[0]:8.1f} us   p99 {stats[1]:8.1f} us"

    print(f"round trip, one call outstanding ({len(small_wire)}-byte request / 64 KiB request)")
    print(row("raw os.write/os.read ping-pong, small", raw_small))
    print(row("Connection.call, small (handler pool)", summary(pooled_small)))
    print(row("Connection.call, small (inline handler)", summary(inline_small)))
    print(row("raw os.write/os.read ping-pong, 64 KiB", raw_big))
    print(row("Connection.call, 64 KiB (handler pool)", summary(pooled_big)))
    print("calls per second")
    print(f"  {'Connection, one at a time (handler pool)':44} {pooled_serial:>10,.0f}")
    print(f"  {'Connection, 64 in flight (handler pool)':44} {pooled_pipelined:>10,.0f}")
    print(f"  {'Connection, one at a time (inline handler)':44} {inline_serial:>10,.0f}")
    print(f"  {'Connection, 64 in flight (inline handler)':44} {inline_pipelined:>10,.0f}")
    print(f"  {'multiprocessing.managers proxy':44} {proxy:>10,.0f}")
    print("ratios (target)")
    print(f"  small latency, pool / raw         {summary(pooled_small)[0] / raw_small[0]:6.2f}x   (<= 2)")
    print(f"  small latency, inline / raw       {summary(inline_small)[0] / raw_small[0]:6.2f}x   (<= 2)")
    print(f"  64 KiB latency, pool / raw        {summary(pooled_big)[0] / raw_big[0]:6.2f}x")
    print(f"  pipelined / one at a time (pool)  {pooled_pipelined / pooled_serial:6.2f}x   (>= 10)")
    print(f"  pipelined (pool) / managers       {pooled_pipelined / proxy:6.2f}x   (>= 10)")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child-rpc":
        child_rpc(int(sys.argv[3]), sys.argv[2] == "inline")
    elif len(sys.argv) >= 4 and sys.argv[1] == "--child-raw":
        child_raw(int(sys.argv[3]), int(sys.argv[2]))
    else:
        main()
