"""MessagePack-RPC messages: build them, and check that what arrives is one.

    request       [0, msgid, method, params]
    response      [1, msgid, error, result]
    notification  [2, method, params]

msgid is an unsigned 32-bit integer chosen by the requester; method a string;
params an array; error nil or a map {"type", "message", "traceback"} of strings.
Messages follow each other on the stream with no extra framing (msgpack values
are self-delimiting). `MessageReader` turns bytes into validated messages and
raises `FramingError` for anything else.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Union

import msgpack

from nuvom.ipc.codec import Decoder, DecodeError, RemoteErrorInfo
from nuvom.ipc.limits import Limits

REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2
MAX_MSGID = 2**32 - 1


class FramingError(ValueError):
    """Bytes that are not a valid MessagePack-RPC message."""


class Request(NamedTuple):
    msgid: int
    method: str
    params: list


class Response(NamedTuple):
    msgid: int
    error: RemoteErrorInfo | None
    result: Any


class Notification(NamedTuple):
    method: str
    params: list


Message = Union[Request, Response, Notification]


def request(packer: msgpack.Packer, msgid: int, method: str, params: list) -> bytes:
    return packer.pack([REQUEST, msgid, method, params])


def response(packer: msgpack.Packer, msgid: int, error: RemoteErrorInfo | None, result: Any) -> bytes:
    wire_error = None if error is None else {"type": error.type, "message": error.message, "traceback": error.traceback}
    return packer.pack([RESPONSE, msgid, wire_error, result])


def notification(packer: msgpack.Packer, method: str, params: list) -> bytes:
    return packer.pack([NOTIFICATION, method, params])


def _msgid(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_MSGID:
        raise FramingError(f"msgid must be an unsigned 32-bit integer, got {value!r:.40}")
    return value


def _method(value: Any) -> str:
    if type(value) is not str:
        raise FramingError(f"method must be a string, got {type(value).__name__}")
    return value


def _params(value: Any) -> list:
    if type(value) is not list:
        raise FramingError(f"params must be an array, got {type(value).__name__}")
    return value


def _error(value: Any) -> RemoteErrorInfo | None:
    if value is None:
        return None
    if isinstance(value, dict):
        parts = [value.get("type"), value.get("message", ""), value.get("traceback", "")]
        if all(type(part) is str for part in parts):
            return RemoteErrorInfo(*parts)
    if isinstance(value, str):  # other implementations often send a bare message
        return RemoteErrorInfo("Error", value, "")
    raise FramingError(f"error must be nil, a string or a map of type/message/traceback, got {value!r:.60}")


def to_message(value: Any) -> Message:
    """Validate one decoded value as a MessagePack-RPC message."""
    if type(value) is not list or not value:
        raise FramingError(f"a message must be a non-empty array, got {type(value).__name__}")
    kind = value[0]
    if kind == REQUEST and len(value) == 4:
        return Request(_msgid(value[1]), _method(value[2]), _params(value[3]))
    if kind == RESPONSE and len(value) == 4:
        return Response(_msgid(value[1]), _error(value[2]), value[3])
    if kind == NOTIFICATION and len(value) == 3:
        return Notification(_method(value[1]), _params(value[2]))
    raise FramingError(f"not a request, response or notification: type {kind!r:.20} with {len(value)} fields")


class MessageReader:
    """Bytes in, validated messages out; `FramingError` on the first bad byte or shape."""

    def __init__(self, limits: Limits | None = None) -> None:
        self._decoder = Decoder(limits)

    def feed(self, data: bytes) -> list[Message]:
        try:
            values = self._decoder.feed(data)
        except DecodeError as error:
            raise FramingError(str(error)) from None
        return [to_message(value) for value in values]
