"""Values on the wire: msgpack plus three extension types, and nothing that can run code.

msgpack carries None, bool, int, float, str, bytes, lists (tuples become lists)
and maps. On top of that:

- ext 1, `Job`: the msgpack array `Job.to_values()` (a map of `to_dict()` is accepted too).
- ext 2, `datetime`: its ISO 8601 text (naive or with offset), UTF-8.
- ext 3, an exception, as data: the msgpack array `[type name, message, traceback]`,
  decoded to `RemoteErrorInfo`, never to an exception class named by the peer.
- ext 4, a batch of jobs (`JobBatch`, sent where a list of jobs is expected): the msgpack
  array of every job's `to_values()`, packed and unpacked in one go; decoded to a list.

Nothing is ever unpickled, eval'd, or imported by name. A value the codec cannot
carry raises `EncodeError` at the sender. The decoder enforces `Limits`.
"""

from __future__ import annotations

import datetime
import functools
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import msgpack

from nuvom.ipc.errors import EncodeError
from nuvom.ipc.limits import Limits
from nuvom.job import Job

EXT_JOB = 1
EXT_DATETIME = 2
EXT_ERROR = 3
EXT_JOBS = 4


class JobBatch:
    """A list of jobs to send as one ext 4 value (about twice as cheap as a list of ext 1 jobs).

    The receiver gets a plain list of `Job`.
    """

    __slots__ = ("jobs",)

    def __init__(self, jobs: Any) -> None:
        self.jobs = list(jobs)


@dataclass(frozen=True)
class RemoteErrorInfo:
    """An exception that crossed the wire: what it was, what it said, where it came from."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, error: BaseException) -> "RemoteErrorInfo":
        return cls(
            type(error).__name__,
            str(error),
            "".join(traceback.format_exception(type(error), error, error.__traceback__)),
        )


class DecodeError(ValueError):
    """Bytes that do not decode to a valid value (becomes a protocol violation)."""


_ext_packers = threading.local()


def _ext_packer() -> msgpack.Packer:
    """This thread's packer for ext payloads (building one per value costs more than packing a job)."""
    packer = getattr(_ext_packers, "packer", None)
    if packer is None:
        packer = _ext_packers.packer = msgpack.Packer(use_bin_type=True, autoreset=True)
    return packer


def _to_ext(value: Any) -> msgpack.ExtType:
    if type(value) is Job:  # the hot path: skip ExtType's argument checks, ours are right by construction
        return tuple.__new__(msgpack.ExtType, (EXT_JOB, _ext_packer().pack(value.to_values())))
    if type(value) is JobBatch:
        payload = _ext_packer().pack([job.to_values() for job in value.jobs])
        return tuple.__new__(msgpack.ExtType, (EXT_JOBS, payload))
    if isinstance(value, Job):
        return msgpack.ExtType(EXT_JOB, _ext_packer().pack(value.to_values()))
    if isinstance(value, datetime.datetime):
        return msgpack.ExtType(EXT_DATETIME, value.isoformat().encode())
    if isinstance(value, BaseException):
        value = RemoteErrorInfo.from_exception(value)
    if isinstance(value, RemoteErrorInfo):
        return msgpack.ExtType(EXT_ERROR, msgpack.packb([value.type, value.message, value.traceback]))
    raise TypeError(f"a value of type {type(value).__module__}.{type(value).__qualname__}")


def new_packer() -> msgpack.Packer:
    """A packer for one thread (msgpack.Packer is not thread-safe)."""
    return msgpack.Packer(default=_to_ext, use_bin_type=True, autoreset=True)


def encode(value: Any, *, what: str = "value") -> bytes:
    """msgpack bytes of `value`; `EncodeError` naming `what` and the type if it cannot travel."""
    try:
        return new_packer().pack(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise EncodeError(f"cannot encode {what}: {error} cannot be sent") from None


def _unpacker_options(limits: Limits) -> dict[str, Any]:
    return dict(
        raw=False,
        strict_map_key=False,
        max_buffer_size=limits.max_message_bytes,
        max_str_len=limits.max_str_bytes,
        max_bin_len=limits.max_bin_bytes,
        max_array_len=limits.max_array_len,
        max_map_len=limits.max_map_len,
        max_ext_len=limits.max_ext_bytes,
    )


def make_ext_hook(limits: Limits, count_container: Callable[[Any], Any]) -> Callable[[int, bytes], Any]:
    """The unpacker's ext hook; `count_container` (the decoder's container budget) sees every
    array and map inside an ext payload too, so a payload cannot hide millions of them."""
    options = _unpacker_options(limits)
    del options["max_buffer_size"]  # an ext payload is already bounded by max_ext_len
    unpack = functools.partial(msgpack.unpackb, list_hook=count_container, object_hook=count_container, **options)

    def ext_hook(code: int, data: bytes) -> Any:
        count_container(None)  # an ext payload costs at least as much as a container
        try:
            if code == EXT_JOB:
                fields = unpack(data)
                return Job.from_values(fields) if isinstance(fields, list) else Job.from_dict(fields)
            if code == EXT_JOBS:
                batch = unpack(data)
                if not isinstance(batch, list):
                    raise ValueError("a job batch must be an array of jobs")
                return [Job.from_values(fields) if isinstance(fields, list) else Job.from_dict(fields)
                        for fields in batch]
            if code == EXT_DATETIME:
                return datetime.datetime.fromisoformat(data.decode())
            if code == EXT_ERROR:
                kind, message, trace = unpack(data)
                if not all(isinstance(part, str) for part in (kind, message, trace)):
                    raise ValueError("exception fields must be strings")
                return RemoteErrorInfo(kind, message, trace)
        except DecodeError:
            raise
        except Exception as error:
            raise DecodeError(f"invalid ext type {code} payload: {type(error).__name__}: {error}") from None
        raise DecodeError(f"unknown ext type {code}")

    return ext_hook


class Decoder:
    """Streaming decoder: `feed(bytes)` returns the complete values decoded so far.

    Raises `DecodeError` for anything malformed or over `limits`; after that the
    stream is unusable (the caller closes the channel).
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._containers = 0
        self._unpacker = msgpack.Unpacker(
            ext_hook=make_ext_hook(self.limits, self._count_container),
            list_hook=self._count_container,
            object_hook=self._count_container,
            **_unpacker_options(self.limits),
        )

    def _count_container(self, container: Any) -> Any:
        self._containers += 1  # called for every array and map: no second call on this path
        if self._containers > self.limits.max_containers:
            raise DecodeError(f"message has more than {self.limits.max_containers} arrays and maps")
        return container

    def feed(self, data: bytes) -> list[Any]:
        try:
            self._unpacker.feed(data)
        except msgpack.BufferFull:
            raise DecodeError(f"message larger than {self.limits.max_message_bytes} bytes") from None
        values = []
        try:
            for value in self._unpacker:
                values.append(value)
                self._containers = 0
        except DecodeError:
            raise
        except msgpack.StackError:
            raise DecodeError("message nested deeper than msgpack's 1024-level limit") from None
        except msgpack.OutOfData:
            pass
        except Exception as error:  # FormatError, ValueError (limits), UnicodeDecodeError, ...
            detail = str(error) or type(error).__name__
            raise DecodeError(f"malformed msgpack: {detail}") from None
        return values
