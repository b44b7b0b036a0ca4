"""The wire between the worker and its plugin hosts: bidirectional MessagePack-RPC.

Layers, each usable and testable alone (like pynvim's msgpack-rpc stack):

- `transport`: bytes over a socket or a pair of fds; sends never block forever.
- `codec`: values <-> msgpack, with ext types for Job, datetime and exceptions
  as data; bounded by `Limits`; no pickle, no eval, no import by name.
- `framing`: MessagePack-RPC request / response / notification messages, validated.
- `connection`: the session: multiplexed calls by msgid, timeouts, handlers on a
  pool, pipelining, and one typed error for each way a call can fail.

This package knows nothing about plugins. `docs/protocol.md` specifies the wire.
"""

from nuvom.ipc.codec import RemoteErrorInfo
from nuvom.ipc.connection import Connection, PendingCall
from nuvom.ipc.errors import CallTimeout, ChannelClosed, EncodeError, IpcError, ProtocolViolation, RemoteError
from nuvom.ipc.limits import Limits

__all__ = [
    "Connection", "PendingCall", "Limits", "RemoteErrorInfo",
    "IpcError", "RemoteError", "CallTimeout", "ChannelClosed", "ProtocolViolation", "EncodeError",
]
