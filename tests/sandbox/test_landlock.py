"""Landlock: filesystem rules, TCP denial and signal scoping, in one ruleset."""

from __future__ import annotations

from pathlib import Path

import pytest

from nuvom.sandbox import landlock_abi
from nuvom.sandbox.landlock import ACCESS_FS_IOCTL_DEV, ACCESS_FS_REFER, ACCESS_FS_TRUNCATE, fs_rights, ruleset_size
from tests.sandbox.conftest import PROJECT_ROOT, as_layers, linux_only, root_only, run_child

pytestmark = linux_only


def setup_for(tmp_path: Path) -> str:
    """Child code defining the directories of the test and LANDLOCK(...) applying the rules."""
    (tmp_path / "readable").mkdir()
    (tmp_path / "readable" / "data.txt").write_text("inside")
    (tmp_path / "writable").mkdir()
    (tmp_path / "secret.txt").write_text("outside")
    return f'''
        from pathlib import Path
        from nuvom.sandbox import apply_landlock, no_new_privs, python_runtime_paths
        TMP = Path({str(tmp_path)!r})
        READ = python_runtime_paths() + [{str(PROJECT_ROOT)!r}, str(TMP / "readable"), str(TMP / "missing")]
        WRITE = [str(TMP / "writable")]
        def LANDLOCK(deny_tcp, scope_signals):
            assert no_new_privs().enforced
            return layers(apply_landlock(READ, WRITE, deny_tcp=deny_tcp, scope_signals=scope_signals))
    '''


def active_lsms() -> list[str]:
    """The kernel's active security modules, when securityfs says (else an empty list)."""
    try:
        return Path("/sys/kernel/security/lsm").read_text().strip().split(",")
    except OSError:
        return []


@pytest.fixture
def abi() -> int:
    """The kernel's Landlock ABI; without Landlock, the test checks that the layers say so, then skips."""
    version = landlock_abi()
    if version == 0:
        assert "landlock" not in active_lsms(), "Landlock is active, yet landlock_abi() says 0"
        result = run_child('''
            from nuvom.sandbox import apply_landlock
            done(layers=layers(apply_landlock(["/"], [], deny_tcp=True, scope_signals=True)))
        ''')
        for layer in as_layers(result["layers"]).values():
            assert not layer.enforced and layer.detail == "kernel has no Landlock"
        pytest.skip("kernel has no Landlock (the layers say so)")
    return version


def test_files_are_readable_and_writable_only_beneath_their_paths(tmp_path, abi):
    result = run_child(setup_for(tmp_path), '''
        read = lambda path: path.read_text()
        write = lambda path: path.write_text("new")
        secret_before = attempt(lambda: read(TMP / "secret.txt"))
        assert "fractions" not in sys.modules
        applied = LANDLOCK(deny_tcp=False, scope_signals=False)
        done(layers=applied, secret_before=secret_before,
             read_inside=attempt(lambda: read(TMP / "readable" / "data.txt")),
             read_outside=attempt(lambda: read(TMP / "secret.txt")),
             list_outside=attempt(lambda: os.listdir(TMP)),
             write_inside=attempt(lambda: write(TMP / "writable" / "out.txt")),
             write_in_read_path=attempt(lambda: write(TMP / "readable" / "out.txt")),
             write_outside=attempt(lambda: write(TMP / "out.txt")),
             import_stdlib=attempt(lambda: __import__("fractions")))
    ''')
    applied = as_layers(result["layers"])
    assert applied["landlock_fs"].enforced
    assert f"skipped (missing or unopenable): {tmp_path / 'missing'}" in applied["landlock_fs"].detail
    assert applied["landlock_tcp"].detail == applied["landlock_scope"].detail == "not requested by policy"
    assert result["secret_before"] == "ok"
    assert result["read_inside"] == "ok" and result["write_inside"] == "ok"
    assert result["read_outside"] == result["list_outside"] == "EACCES"
    assert result["write_in_read_path"] == result["write_outside"] == "EACCES"
    assert result["import_stdlib"] == "ok"
    assert (tmp_path / "writable" / "out.txt").read_text() == "new"
    assert not (tmp_path / "out.txt").exists()


def test_tcp_connect_and_bind_are_denied(tmp_path, abi, tcp_port):
    result = run_child(setup_for(tmp_path), f'''
        import socket
        def connect():
            socket.create_connection(("127.0.0.1", {tcp_port}), timeout=5).close()
        def bind():
            with socket.socket() as server:
                server.bind(("127.0.0.1", 0))
        def unix():
            left, right = socket.socketpair()
            left.sendall(b"x")
            assert right.recv(1) == b"x"
        before = attempt(connect)
        applied = LANDLOCK(deny_tcp=True, scope_signals=False)
        done(layers=applied, before=before, connect=attempt(connect), bind=attempt(bind),
             unix=attempt(unix))
    ''')
    tcp = as_layers(result["layers"])["landlock_tcp"]
    if abi < 4:
        assert not tcp.enforced and tcp.detail == f"Landlock ABI {abi} < 4"
        pytest.skip(tcp.detail)
    assert tcp.enforced
    assert result["before"] == "ok"
    assert result["connect"] == result["bind"] == "EACCES"
    assert result["unix"] == "ok"


def test_signals_to_the_parent_are_denied(tmp_path, abi):
    result = run_child(setup_for(tmp_path), '''
        before = attempt(lambda: os.kill(os.getppid(), 0))
        applied = LANDLOCK(deny_tcp=False, scope_signals=True)
        done(layers=applied, before=before, parent=attempt(lambda: os.kill(os.getppid(), 0)),
             itself=attempt(lambda: os.kill(os.getpid(), 0)))
    ''')
    scope = as_layers(result["layers"])["landlock_scope"]
    if abi < 6:
        assert not scope.enforced and scope.detail == f"Landlock ABI {abi} < 6"
        pytest.skip(scope.detail)
    assert scope.enforced
    assert result["before"] == "ok"
    assert result["parent"] == "EPERM"
    assert result["itself"] == "ok"


def test_an_older_abi_enforces_what_it_can_and_names_the_rest(tmp_path, abi):
    result = run_child(setup_for(tmp_path), '''
        import nuvom.sandbox.landlock as landlock
        landlock.landlock_abi = lambda: 3
        applied = LANDLOCK(deny_tcp=True, scope_signals=True)
        done(layers=applied, read_outside=attempt(lambda: (TMP / "secret.txt").read_text()))
    ''')
    applied = as_layers(result["layers"])
    assert applied["landlock_fs"].enforced and applied["landlock_fs"].detail.startswith("ABI 3:")
    assert applied["landlock_tcp"].detail == "Landlock ABI 3 < 4"
    assert applied["landlock_scope"].detail == "Landlock ABI 3 < 6"
    assert result["read_outside"] == "EACCES"


@root_only
def test_an_unprivileged_process_without_no_new_privs_is_refused(tmp_path, abi):
    result = run_child('''
        from nuvom.sandbox import apply_landlock, drop_to_user
        assert drop_to_user(65534, 65534).enforced
        done(layers=layers(apply_landlock(["/"], [], deny_tcp=True, scope_signals=False)))
    ''')
    applied = as_layers(result["layers"])
    assert [layer.enforced for layer in applied.values()] == [False, False, False]
    assert applied["landlock_fs"].detail == applied["landlock_tcp"].detail == "not permitted: EPERM (set no_new_privs first)"
    assert applied["landlock_scope"].detail == "not requested by policy"


def test_each_abi_handles_the_rights_it_knows():
    base = (1 << 13) - 1
    assert fs_rights(0) == 0
    assert fs_rights(1) == base
    assert fs_rights(2) == base | ACCESS_FS_REFER
    assert fs_rights(3) == fs_rights(4) == base | ACCESS_FS_REFER | ACCESS_FS_TRUNCATE
    assert fs_rights(5) == fs_rights(7) == base | ACCESS_FS_REFER | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV == 0xFFFF
    assert [ruleset_size(abi) for abi in range(1, 8)] == [8, 8, 8, 16, 16, 24, 24]
