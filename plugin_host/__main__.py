"""Entry point: die with the worker, open the channel, serve until it closes."""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys


def die_with_parent() -> None:
    """Linux: get SIGKILL when the worker dies (even by SIGKILL); elsewhere EOF on the channel does it."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent or os.getppid() == 1:
        os._exit(70)  # the worker died before we could ask to die with it


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m plugin_host")
    parser.add_argument("--fd", type=int, required=True, help="the inherited socket of the RPC channel")
    args = parser.parse_args()
    die_with_parent()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the worker asks where start() hangs
    from plugin_host.host import serve

    serve(args.fd)
    sys.stdout.flush()
    os._exit(0)  # do not wait for threads a plugin may have left running


if __name__ == "__main__":
    main()
