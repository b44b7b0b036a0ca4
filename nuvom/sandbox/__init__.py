"""Linux sandbox layers a plugin host applies to itself at start-up.

Each layer is one small module and one idea; each function applies its layer to the
calling process and returns `Layer` values saying what is enforced, or why not, instead
of raising when the platform refuses (not Linux, old kernel, container policy):

- `limits`: rlimits (RLIMIT_DATA, NOFILE, FSIZE, CORE=0, NPROC, CPU);
- `privileges`: no_new_privs, not-dumpable (for the worker), dropping root to `nobody`;
- `namespaces`: an empty network namespace (user namespace too when unprivileged);
- `landlock`: filesystem rules, TCP bind/connect denial and signal scoping, one ruleset;
- `seccomp`: a syscall filter (libseccomp via ctypes) refusing dangerous syscalls,
  and optionally fork and non-unix sockets, with EPERM.

Apply them before any thread starts and before importing untrusted code, in this order:

1. `apply_limits(...)`;
2. `load_libseccomp()` and every import the host still needs (after the next steps the
   interpreter may be unable to read its own standard library, for instance when it
   lives under a root-only directory);
3. `isolate_network()` while still root (CLONE_NEWNET alone suffices);
4. `drop_to_user(*unprivileged_ids())` (this also makes the process not dumpable);
5. `no_new_privs()`, required by Landlock for an unprivileged process;
6. `apply_landlock(read_paths, write_paths, deny_tcp, scope_signals)`, with
   `python_runtime_paths()` among the read paths;
7. `apply_seccomp(allow_fork, allow_network)` last: it forbids unshare and setns.

Nothing here starts a thread, and the package uses only the standard library.
"""

from nuvom.sandbox.landlock import apply_landlock, landlock_abi, python_runtime_paths, restrict_filesystem
from nuvom.sandbox.limits import apply_limits
from nuvom.sandbox.namespaces import isolate_network
from nuvom.sandbox.privileges import drop_to_user, no_new_privs, set_not_dumpable, unprivileged_ids
from nuvom.sandbox.report import Layer
from nuvom.sandbox.seccomp import apply_seccomp, load_libseccomp

__all__ = [
    "Layer",
    "apply_limits",
    "no_new_privs", "set_not_dumpable", "drop_to_user", "unprivileged_ids",
    "isolate_network",
    "landlock_abi", "apply_landlock", "restrict_filesystem", "python_runtime_paths",
    "apply_seccomp", "load_libseccomp",
]
