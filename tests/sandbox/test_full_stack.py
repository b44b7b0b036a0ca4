"""Every layer together, in the order the package docstring gives, on a root-started host."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.sandbox.conftest import PROJECT_ROOT, as_layers, linux_only, root_only, run_child

pytestmark = [linux_only, root_only]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory nobody may enter, with a file nobody may read, so only Landlock can refuse them.

    (pytest's tmp_path lies under a root-only directory.)
    """
    path = Path(tempfile.mkdtemp(prefix="nuvom-sandbox-"))
    try:
        path.chmod(0o755)
        (path / "writable").mkdir()
        os.chown(path / "writable", 65534, 65534)
        (path / "secret.txt").write_text("outside")
        (path / "secret.txt").chmod(0o644)
        yield path
    finally:
        shutil.rmtree(path)


def test_a_host_sandboxes_itself_layer_after_layer(shared_dir, tcp_port):
    tmp_path = shared_dir
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(b"ping")
        result = run_child(f'''
            import encodings.idna, socket
            from pathlib import Path
            from nuvom.sandbox import *
            TMP = Path({str(tmp_path)!r})
            def connect():
                socket.create_connection(("127.0.0.1", {tcp_port}), timeout=5).close()
            applied = apply_limits(memory_mb=512, max_open_files=256, max_file_size_mb=16,
                                   max_processes=None, cpu_seconds=60)
            assert load_libseccomp() is not None
            applied.append(isolate_network())
            applied.append(drop_to_user(*unprivileged_ids()))
            applied.append(no_new_privs())
            read = python_runtime_paths() + [{str(PROJECT_ROOT)!r}]
            applied += apply_landlock(read, [str(TMP / "writable")], deny_tcp=True, scope_signals=True)
            applied.append(apply_seccomp(allow_fork=False, allow_network=False))
            rpc = socket.socket(fileno={theirs.fileno()})
            message = rpc.recv(4)
            rpc.sendall(b"pong")
            done(layers=layers(applied), message=message.decode(), uid=os.getuid(),
                 secret=attempt(lambda: (TMP / "secret.txt").read_text()),
                 write=attempt(lambda: (TMP / "writable" / "out.txt").write_text("ok")),
                 connect=attempt(connect), fork=attempt(os.fork),
                 kill_parent=attempt(lambda: os.kill(os.getppid(), 0)))
        ''', pass_fds=[theirs.fileno()])
        ours.settimeout(5)
        reply = ours.recv(4)
    applied = as_layers(result["layers"])
    not_enforced = {name: layer.detail for name, layer in applied.items() if not layer.enforced}
    assert not_enforced == {"rlimit_nproc": "not requested by policy"}
    assert (result["message"], reply) == ("ping", b"pong")
    assert result["uid"] == 65534
    assert result["secret"] == "EACCES" and result["write"] == "ok"
    assert result["connect"] == "EPERM"  # seccomp refuses the AF_INET socket itself
    assert result["fork"] == result["kill_parent"] == "EPERM"
