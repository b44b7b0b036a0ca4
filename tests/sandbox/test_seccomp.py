"""The seccomp filter: EPERM on dangerous syscalls, on fork and on non-unix sockets."""

from __future__ import annotations

from tests.sandbox.conftest import as_layers, linux_only, run_child

pytestmark = linux_only

# A victim process to ptrace, started before any filter; it ends when its stdin closes.
PROBES = '''
import ctypes, socket, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
victim = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)

def check(result):
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))

def attach(pid):
    check(libc.ptrace(PTRACE_ATTACH, pid, None, None))
    os.waitpid(pid, os.WUNTRACED | 0x40000000)  # __WALL
    check(libc.ptrace(PTRACE_DETACH, pid, None, None))

def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)

def spawn():
    subprocess.run(["true"], check=True)

def posix_spawn():
    os.waitpid(os.posix_spawn("/bin/true", ["true"], {}), 0)

def thread():
    ran = []
    worker = threading.Thread(target=ran.append, args=(1,))
    worker.start()
    worker.join()
    assert ran == [1]

def inet():
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()

def unix():
    left, right = socket.socketpair()
    left.sendall(b"x")
    assert right.recv(1) == b"x"

def unshare():
    check(libc.unshare(0x40000000))  # CLONE_NEWNET

def probe():
    return {
        "thread": attempt(thread), "fork": attempt(fork), "spawn": attempt(spawn),
        "posix_spawn": attempt(posix_spawn), "attach_victim": attempt(lambda: attach(victim.pid)),
        "inet": attempt(inet), "inet6": attempt(lambda: socket.socket(socket.AF_INET6).close()),
        "unix": attempt(unix), "unshare": attempt(unshare),
    }
'''


def test_no_fork_no_network_keeps_threads_and_unix_sockets():
    result = run_child(PROBES, '''
        from nuvom.sandbox import apply_seccomp
        before = probe()
        layer = apply_seccomp(allow_fork=False, allow_network=False)
        after = probe()
        after["attach_parent"] = attempt(lambda: check(libc.ptrace(PTRACE_ATTACH, os.getppid(), None, None)))
        victim.stdin.close()
        victim.wait()
        done(layer=layer.to_dict(), before=before, after=after)
    ''')
    assert as_layers([result["layer"]])["seccomp"].enforced
    assert set(result["before"].values()) == {"ok"}
    after = result["after"]
    assert after["thread"] == after["unix"] == "ok"
    for denied in ("fork", "spawn", "posix_spawn", "attach_victim", "attach_parent", "inet", "inet6", "unshare"):
        assert after[denied] == "EPERM", denied


def test_fork_and_network_allowed_but_ptrace_and_namespaces_still_denied():
    result = run_child(PROBES, '''
        from nuvom.sandbox import apply_seccomp
        layer = apply_seccomp(allow_fork=True, allow_network=True)
        after = probe()
        victim.stdin.close()
        victim.wait()
        done(layer=layer.to_dict(), after=after)
    ''')
    assert as_layers([result["layer"]])["seccomp"].enforced
    after = result["after"]
    for allowed in ("thread", "fork", "spawn", "posix_spawn", "inet", "inet6", "unix"):
        assert after[allowed] == "ok", allowed
    assert after["attach_victim"] == after["unshare"] == "EPERM"


def test_threads_started_before_the_filter_are_filtered_too():
    result = run_child('''
        import socket, threading
        from nuvom.sandbox import apply_seccomp
        go, finished = threading.Event(), []
        def later():
            go.wait(10)
            finished.append(attempt(lambda: socket.socket(socket.AF_INET).close()))
        worker = threading.Thread(target=later)
        worker.start()
        layer = apply_seccomp(allow_fork=True, allow_network=False)
        go.set()
        worker.join()
        done(layer=layer.to_dict(), thread=finished)
    ''')
    assert as_layers([result["layer"]])["seccomp"].enforced
    assert result["thread"] == ["EPERM"]


def test_without_libseccomp_the_layer_says_so_and_nothing_is_filtered():
    result = run_child('''
        import socket
        import nuvom.sandbox.seccomp as seccomp
        seccomp.load_libseccomp = lambda: None
        layer = seccomp.apply_seccomp(allow_fork=False, allow_network=False)
        done(layer=layer.to_dict(), inet=attempt(lambda: socket.socket(socket.AF_INET).close()))
    ''')
    layer = as_layers([result["layer"]])["seccomp"]
    assert not layer.enforced and layer.detail == "libseccomp not found"
    assert result["inet"] == "ok"
