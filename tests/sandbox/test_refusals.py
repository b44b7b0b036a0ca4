"""Layers that cannot be enforced say why instead of raising or pretending."""

from __future__ import annotations

from tests.sandbox.conftest import as_layers, linux_only, run_child


def test_on_another_platform_every_kernel_layer_says_not_linux():
    result = run_child('''
        sys.platform = "darwin"
        from nuvom.sandbox import (apply_landlock, apply_seccomp, isolate_network, landlock_abi,
                                   no_new_privs, set_not_dumpable)
        applied = [no_new_privs(), set_not_dumpable(), isolate_network(), apply_seccomp(False, False)]
        applied += apply_landlock(["/"], [], deny_tcp=True, scope_signals=True)
        done(layers=layers(applied), abi=landlock_abi())
    ''')
    applied = as_layers(result["layers"])
    assert len(applied) == 7
    assert {(layer.enforced, layer.detail) for layer in applied.values()} == {(False, "not Linux")}
    assert result["abi"] == 0


@linux_only
def test_per_thread_layers_are_refused_once_threads_run():
    result = run_child('''
        import ctypes, threading
        from nuvom.sandbox import apply_landlock, isolate_network, no_new_privs
        stop = threading.Event()
        waiter = threading.Thread(target=stop.wait)
        waiter.start()
        applied = [no_new_privs(), isolate_network()]
        applied += apply_landlock(["/"], [], deny_tcp=True, scope_signals=True)
        stop.set()
        waiter.join()
        done(layers=layers(applied), no_new_privs=ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))
    ''')
    applied = as_layers(result["layers"])
    assert len(applied) == 5
    for layer in applied.values():
        assert not layer.enforced and layer.detail.startswith("process already has 2 threads"), layer
    assert result["no_new_privs"] == 0
