"""rlimits a host puts on itself: memory, files, core dumps, processes, CPU."""

from __future__ import annotations

import signal

from tests.sandbox.conftest import as_layers, linux_only, run_child

pytestmark = linux_only


def test_data_limit_makes_a_big_allocation_fail_while_threads_still_start():
    result = run_child('''
        import threading
        from nuvom.sandbox import apply_limits
        before = attempt(lambda: bytes(512 * 1024 * 1024))
        applied = apply_limits(memory_mb=256, max_open_files=256, max_file_size_mb=None,
                               max_processes=None, cpu_seconds=None)
        started = []
        threads = [threading.Thread(target=started.append, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done(layers=layers(applied), before=before, threads=len(started),
             big=attempt(lambda: bytes(512 * 1024 * 1024)), small=attempt(lambda: bytes(1024 * 1024)))
    ''')
    assert as_layers(result["layers"])["rlimit_data"].enforced
    assert result["before"] == "ok"
    assert result["threads"] == 16
    assert result["big"] == "MemoryError"
    assert result["small"] == "ok"


def test_every_limit_reads_back_and_core_dumps_are_off():
    result = run_child('''
        import resource
        from nuvom.sandbox import apply_limits
        applied = apply_limits(memory_mb=128, max_open_files=100, max_file_size_mb=2, max_processes=500, cpu_seconds=30)
        names = ["DATA", "NOFILE", "FSIZE", "CORE", "NPROC", "CPU"]
        done(layers=layers(applied), limits={n: resource.getrlimit(getattr(resource, "RLIMIT_" + n)) for n in names})
    ''')
    applied = as_layers(result["layers"])
    assert all(layer.enforced for layer in applied.values()), applied
    mib = 1024 * 1024
    assert result["limits"] == {
        "DATA": [128 * mib, 128 * mib], "NOFILE": [100, 100], "FSIZE": [2 * mib, 2 * mib],
        "CORE": [0, 0], "NPROC": [500, 500], "CPU": [30, 31],
    }
    assert "system-wide" in applied["rlimit_nproc"].detail and "root" in applied["rlimit_nproc"].detail


def test_file_size_and_open_file_limits_refuse_with_an_oserror():
    result = run_child('''
        from nuvom.sandbox import apply_limits
        apply_limits(memory_mb=None, max_open_files=32, max_file_size_mb=1, max_processes=None, cpu_seconds=None)
        with open("big.bin", "wb", buffering=0) as big:
            written = big.write(b"x" * (2 * 1024 * 1024))
            write = attempt(lambda: big.write(b"x"))
        files = []
        def open_forever():
            while len(files) < 1000:
                files.append(open(os.devnull))
        done(written=written, write=write, open=attempt(open_forever), opened=len(files))
    ''')
    assert result["written"] == 1024 * 1024  # a short write up to the limit
    assert result["write"] == "EFBIG"
    assert result["open"] == "EMFILE"
    assert result["opened"] < 32


def test_cpu_budget_kills_a_busy_loop():
    code = '''
        from nuvom.sandbox import apply_limits
        apply_limits(memory_mb=None, max_open_files=64, max_file_size_mb=None, max_processes=None, cpu_seconds=1)
        while True:
            pass
    '''
    try:
        run_child(code)
    except AssertionError as error:
        assert f"child exited {-signal.SIGXCPU}" in str(error)
    else:
        raise AssertionError("the busy loop was not stopped")


def test_a_limit_is_never_raised_above_the_hard_limit_and_none_is_not_requested():
    result = run_child('''
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (50, 50))
        from nuvom.sandbox import apply_limits
        applied = apply_limits(memory_mb=None, max_open_files=1000, max_file_size_mb=None,
                               max_processes=None, cpu_seconds=None)
        done(layers=layers(applied), nofile=resource.getrlimit(resource.RLIMIT_NOFILE))
    ''')
    applied = as_layers(result["layers"])
    assert result["nofile"] == [50, 50]
    assert applied["rlimit_nofile"].enforced and "capped at the existing hard limit 50" in applied["rlimit_nofile"].detail
    for name in ("rlimit_data", "rlimit_fsize", "rlimit_nproc", "rlimit_cpu"):
        assert applied[name] == type(applied[name])(name, False, "not requested by policy")
    assert applied["rlimit_core"].enforced
