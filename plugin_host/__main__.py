"""Entry point: die with the worker, sandbox this process, open the channel, serve until it closes.

    python -I -m plugin_host --fd N [--sandbox JSON]     serve the plugin the worker names in hello
    python -I -m plugin_host --probe --sandbox JSON      apply the sandbox, print its layers as JSON, exit

The sandbox is applied before any thread starts and before any plugin code is imported.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys


def die_with_parent(parent: int) -> None:
    """Linux: get SIGKILL when the worker dies (even by SIGKILL); elsewhere EOF on the channel does it.

    Also become the subreaper of our descendants: a daemon a plugin double-forks stays
    our descendant, so the worker finds it and ends it with us.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if os.getppid() != parent or os.getppid() == 1:
        os._exit(70)  # the worker died before we could ask to die with it


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m plugin_host")
    parser.add_argument("--fd", type=int, help="the inherited socket of the RPC channel")
    parser.add_argument("--sandbox", help="the SandboxProfile to apply, as JSON")
    parser.add_argument("--probe", action="store_true", help="apply the sandbox, print what is enforced, exit")
    parser.add_argument("--zygote", type=int, metavar="FD", help="serve host spawn requests on this socket")
    args = parser.parse_args(argv)
    if args.fd is None and not args.probe and args.zygote is None:
        parser.error("--fd is required")
    return args


def run_host(args: argparse.Namespace, parent: int) -> None:
    """Sandbox this process, then serve the plugin (or report the sandbox); never returns."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the worker asks where start() hangs
    from plugin_host.host import serve  # everything the host itself runs, loaded before the sandbox
    from nuvom.sandbox.profile import SandboxProfile, apply_profile

    layers = []
    strict = False
    memory_mb = None
    if args.sandbox:
        profile = SandboxProfile.from_dict(json.loads(args.sandbox))
        layers = [layer.to_dict() for layer in apply_profile(profile)]
        strict = profile.strict
        memory_mb = profile.memory_mb
        die_with_parent(parent)  # a change of user clears the parent-death signal: ask again
    if args.probe:  # the caller removes the private directory: Landlock keeps us from doing it
        print(json.dumps(layers))
        sys.stdout.flush()
        os._exit(0)
    serve(args.fd, sandbox=layers, strict=strict, memory_mb=memory_mb)
    sys.stdout.flush()
    os._exit(0)  # do not wait for threads a plugin may have left running


def main() -> None:
    args = parse()
    parent = os.getppid()
    die_with_parent(parent)
    if args.zygote is not None:
        from plugin_host.zygote import serve_spawns

        serve_spawns(args.zygote)
        os._exit(0)
    run_host(args, parent)


if __name__ == "__main__":
    main()
