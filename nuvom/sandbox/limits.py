"""Resource limits (`setrlimit`) a plugin host puts on itself.

Each limit sets both the soft and the hard value, so the plugin cannot raise it back.
A limit is never raised above the hard limit the process already has: such a request
is capped at the existing hard limit, and the detail says so.

`RLIMIT_DATA` bounds memory, not `RLIMIT_AS`: address space counts every thread's
stack reservation, so a 256 MiB `RLIMIT_AS` leaves room for only a few threads.
Since Linux 4.7 `RLIMIT_DATA` counts the heap and private writable mappings, which
is where Python's objects live; an allocation over it raises MemoryError.
Thread stacks are private writable mappings too: each thread reserves RLIMIT_STACK
(8 MiB by default), so 256 MiB of RLIMIT_DATA admits about 30 threads, and about 240
after `threading.stack_size(1024 * 1024)`.
"""

from __future__ import annotations

from typing import Optional

from nuvom.sandbox._linux import errno_reason
from nuvom.sandbox.report import NOT_REQUESTED, Layer

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

MiB = 1024 * 1024


def apply_limits(
    memory_mb: Optional[int],
    max_open_files: int,
    max_file_size_mb: Optional[int],
    max_processes: Optional[int],
    cpu_seconds: Optional[int],
) -> list[Layer]:
    """Lower this process's rlimits; one Layer per limit, in a fixed order.

    - `memory_mb`: RLIMIT_DATA (heap and private writable mappings), in MiB.
    - `max_open_files`: RLIMIT_NOFILE.
    - `max_file_size_mb`: RLIMIT_FSIZE, in MiB; a larger write fails with EFBIG
      (Python ignores SIGXFSZ, so the write raises OSError instead of killing).
    - RLIMIT_CORE is always set to 0: a crashing plugin leaves no core file with secrets.
    - `max_processes`: RLIMIT_NPROC. It counts every process of the user id system-wide,
      not only this host's children, and does not bind root.
    - `cpu_seconds`: RLIMIT_CPU, a budget over the process's whole life (not per call):
      SIGXCPU at `cpu_seconds`, SIGKILL one second later.

    None means "not requested by policy". A limit the kernel refuses is reported as
    not enforced; nothing is raised.
    """
    if resource is None:
        names = ("rlimit_data", "rlimit_nofile", "rlimit_fsize", "rlimit_core", "rlimit_nproc", "rlimit_cpu")
        return [Layer(name, False, "no resource limits on this platform") for name in names]
    return [
        _limit("rlimit_data", resource.RLIMIT_DATA, _bytes(memory_mb), "data segment (heap and private mappings)"),
        _limit("rlimit_nofile", resource.RLIMIT_NOFILE, max_open_files, "open file descriptors"),
        _limit("rlimit_fsize", resource.RLIMIT_FSIZE, _bytes(max_file_size_mb), "size of a written file"),
        _limit("rlimit_core", resource.RLIMIT_CORE, 0, "core dump size"),
        _limit(
            "rlimit_nproc", resource.RLIMIT_NPROC, max_processes,
            "processes of this user id system-wide (does not bind root)",
        ),
        _limit("rlimit_cpu", resource.RLIMIT_CPU, cpu_seconds, "CPU seconds over the process's life", grace=1),
    ]


def _bytes(megabytes: Optional[int]) -> Optional[int]:
    return None if megabytes is None else megabytes * MiB


def _limit(name: str, which: int, value: Optional[int], what: str, grace: int = 0) -> Layer:
    """Set soft = `value` and hard = `value` + `grace`, both capped at the current hard limit."""
    if value is None:
        return Layer(name, False, NOT_REQUESTED)
    if value < 0:
        return Layer(name, False, f"invalid limit {value}")
    try:
        _, current_hard = resource.getrlimit(which)
    except (OSError, ValueError) as error:
        return Layer(name, False, _reason(error))
    soft, hard = value, value + grace
    capped = ""
    if current_hard != resource.RLIM_INFINITY and hard > current_hard:
        soft, hard = min(soft, current_hard), current_hard
        capped = f" (capped at the existing hard limit {current_hard})"
    try:
        resource.setrlimit(which, (soft, hard))
    except (OSError, ValueError) as error:
        return Layer(name, False, _reason(error))
    return Layer(name, True, f"{what} <= {soft}{capped}")


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return errno_reason(error.errno)
    return str(error)
