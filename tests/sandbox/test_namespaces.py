"""isolate_network: no TCP to the machine's ports, while the inherited socketpair still works."""

from __future__ import annotations

import socket

import pytest

from nuvom.sandbox import Layer
from tests.sandbox.conftest import as_layers, linux_only, root_only, run_child

pytestmark = linux_only

KERNEL_REFUSALS = ("not permitted: EPERM", "access denied: EACCES", "disabled in the kernel", "namespace limit")

ISOLATE_AND_PROBE = '''
import encodings.idna  # create_connection needs it, and nobody cannot read this interpreter's stdlib
import ctypes
import socket
from nuvom.sandbox import drop_to_user, isolate_network
def connect():
    socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
if DROP_FIRST:
    assert drop_to_user(65534, 65534).enforced
before = attempt(connect)
layer = isolate_network()
rpc = socket.socket(fileno=RPC_FD)
message = rpc.recv(4)
rpc.sendall(b"pong")
with open("/proc/self/uid_map", "rb") as uid_map:
    mapping = uid_map.read().decode().split()
done(layer=layer.to_dict(), before=before, after=attempt(connect), message=message.decode(),
     uid=os.getuid(), uid_map=mapping, dumpable=ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))
'''


def isolate(tcp_port: int, drop_first: bool) -> tuple[Layer, dict]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(b"ping")
        setup = f"PORT, RPC_FD, DROP_FIRST = {tcp_port}, {theirs.fileno()}, {drop_first}"
        result = run_child(setup, ISOLATE_AND_PROBE, pass_fds=[theirs.fileno()])
        ours.settimeout(5)
        result["reply"] = ours.recv(4).decode()
    layer = as_layers([result["layer"]])["network_namespace"]
    assert result["before"] == "ok"
    if not layer.enforced:
        # Only a kernel or container policy refusal may skip; anything else is a bug.
        assert layer.detail.startswith(KERNEL_REFUSALS), layer.detail
        assert result["after"] == "ok"
        pytest.skip(f"network namespace refused here: {layer.detail}")
    return layer, result


def test_tcp_to_the_machine_fails_while_the_inherited_socketpair_carries_bytes(tcp_port):
    layer, result = isolate(tcp_port, drop_first=False)
    assert result["after"] == "ENETUNREACH"
    assert (result["message"], result["reply"]) == ("ping", "pong")


@root_only
def test_an_unprivileged_process_gets_a_user_namespace_mapping_its_own_ids(tcp_port):
    layer, result = isolate(tcp_port, drop_first=True)
    assert "user namespace" in layer.detail
    assert result["after"] == "ENETUNREACH"
    assert result["uid"] == 65534 and result["uid_map"] == ["65534", "65534", "1"]
    assert result["dumpable"] == 0, "made dumpable to write its id maps, then restored"
    assert (result["message"], result["reply"]) == ("ping", "pong")
