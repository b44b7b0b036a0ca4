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


def _ext_encoder() -> Callable[[Any], msgpack.ExtType]:
    """A packer's `default`: the ext type of a value msgpack cannot pack itself.

    It owns the packer for ext payloads, used only by the thread using its outer
    packer (building a packer per value costs more than packing a job).
    """
    pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack

    def to_ext(value: Any) -> msgpack.ExtType:
        if type(value) is Job:  # the hot path: skip ExtType's argument checks, ours are right by construction
            return tuple.__new__(msgpack.ExtType, (EXT_JOB, pack(value.to_values())))
        if type(value) is JobBatch:
            return tuple.__new__(msgpack.ExtType, (EXT_JOBS, pack([job.to_values() for job in value.jobs])))
        if isinstance(value, Job):
            return msgpack.ExtType(EXT_JOB, pack(value.to_values()))
        if isinstance(value, datetime.datetime):
            return msgpack.ExtType(EXT_DATETIME, value.isoformat().encode())
        if isinstance(value, BaseException):
            value = RemoteErrorInfo.from_exception(value)
        if isinstance(value, RemoteErrorInfo):
            return msgpack.ExtType(EXT_ERROR, pack([value.type, value.message, value.traceback]))
        raise TypeError(f"a value of type {type(value).__module__}.{type(value).__qualname__}")

    return to_ext


def new_packer() -> msgpack.Packer:
    """A packer for one thread (msgpack.Packer is not thread-safe)."""
    return msgpack.Packer(default=_ext_encoder(), use_bin_type=True, autoreset=True)


def encode(value: Any, *, what: str = "value") -> bytes:
    """msgpack bytes of `value`; `EncodeError` naming `what` and the type if it cannot travel."""
    try:
        return new_packer().pack(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise EncodeError(f"cannot encode {what}: {error} cannot be sent") from None


_FIRST_BUFFER_BYTES = 64 * 1024  # an unpacker's buffer grows from here (msgpack starts at 1 MiB)


def _unpacker_options(limits: Limits) -> dict[str, Any]:
    return dict(
        raw=False,
        strict_map_key=False,
        read_size=min(_FIRST_BUFFER_BYTES, limits.max_message_bytes),
        max_buffer_size=limits.max_message_bytes,
        max_str_len=limits.max_str_bytes,
        max_bin_len=limits.max_bin_bytes,
        max_array_len=limits.max_array_len,
        max_map_len=limits.max_map_len,
        max_ext_len=limits.max_ext_bytes,
    )


def make_ext_hook(unpack: Callable[[bytes], Any]) -> Callable[[int, bytes], Any]:
    """The unpacker's ext hook; `unpack` decodes an ext payload (with whatever limits and
    container count the caller needs: see `Decoder`)."""

    def ext_hook(code: int, data: bytes) -> Any:
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


def _unpack_one(unpacker: msgpack.Unpacker) -> Callable[[bytes], Any]:
    """Decode one whole msgpack value with `unpacker`, reused: cheaper than `msgpack.unpackb`'s setup.

    Trailing or missing bytes raise; the decoder is unusable after any error anyway.
    """
    fed = 0

    def unpack(data: bytes) -> Any:
        nonlocal fed
        unpacker.feed(data)
        fed += len(data)
        value = unpacker.unpack()
        if unpacker.tell() != fed:
            raise ValueError(f"{fed - unpacker.tell()} bytes after the value")
        return value

    return unpack


class Decoder:
    """Streaming decoder: `feed(bytes)` returns the complete values decoded so far.

    Raises `DecodeError` for anything malformed or over `limits`; after that the
    stream is unusable (the caller closes the channel).

    The container budget costs a Python call per array and map, so it is counted only
    where it can be exceeded. Every container takes at least one byte, so a message
    of at most `max_containers` bytes (and at most every length limit) cannot break
    it: such messages, nearly all of them, go through an unpacker with no hooks.
    Once an unfinished message outgrows that size, its bytes so far move to a
    counting unpacker, which decodes until the stream is between messages again.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits = limits or Limits()
        self._small_message_bytes = min(
            limits.max_containers, limits.max_str_bytes, limits.max_bin_bytes,
            limits.max_array_len, limits.max_map_len, limits.max_ext_bytes,
        )
        self._containers = 0
        self._counting = False
        self._unpacker = self._fast_unpacker()
        self._fed = 0  # bytes fed to `_unpacker`
        self._boundary = 0  # where its last complete value ended
        self._unfinished = bytearray()  # on the fast path: the bytes of the value not yet complete

    def _fast_unpacker(self) -> msgpack.Unpacker:
        size = self._small_message_bytes  # a payload here is no longer than any limit: they need no check
        inner = msgpack.Unpacker(
            raw=False, strict_map_key=False, read_size=min(_FIRST_BUFFER_BYTES, size), max_buffer_size=size
        )
        return msgpack.Unpacker(ext_hook=make_ext_hook(_unpack_one(inner)), **_unpacker_options(self.limits))

    def _counting_unpacker(self) -> msgpack.Unpacker:
        options = _unpacker_options(self.limits)
        count = self._count_container
        ext_bytes = self.limits.max_ext_bytes
        inner_options = {**options, "read_size": min(_FIRST_BUFFER_BYTES, ext_bytes), "max_buffer_size": ext_bytes}
        inner = msgpack.Unpacker(list_hook=count, object_hook=count, **inner_options)

        def count_ext(data: bytes) -> Any:
            count(None)  # an ext payload costs at least as much as a container
            return unpack(data)

        unpack = _unpack_one(inner)
        return msgpack.Unpacker(ext_hook=make_ext_hook(count_ext), list_hook=count, object_hook=count, **options)

    def _count_container(self, container: Any) -> Any:
        self._containers += 1  # called for every array and map: no second call on this path
        if self._containers > self.limits.max_containers:
            raise DecodeError(f"message has more than {self.limits.max_containers} arrays and maps")
        return container

    def feed(self, data: bytes) -> list[Any]:
        values: list[Any] = []
        view = memoryview(data)
        while view:
            if self._counting:
                self._decode(view, values)
                if self._fed == self._boundary:  # between messages: back to the fast path
                    self._counting, self._unpacker, self._fed, self._boundary = False, self._fast_unpacker(), 0, 0
                break
            room = self._small_message_bytes - (self._fed - self._boundary)
            if room <= 0:  # the unfinished message is too big to skip counting: restart it counted
                self._counting, self._unpacker, self._fed, self._boundary = True, self._counting_unpacker(), 0, 0
                self._containers = 0
                unfinished, self._unfinished = self._unfinished, bytearray()
                self._decode(memoryview(unfinished), values)
                continue
            chunk, view = view[:room], view[room:]
            self._decode(chunk, values)
            unfinished = self._fed - self._boundary
            if not unfinished:
                self._unfinished.clear()
            elif unfinished <= len(chunk):
                self._unfinished[:] = chunk[len(chunk) - unfinished:]
            else:
                self._unfinished += chunk
        return values

    def _decode(self, data: memoryview, values: list[Any]) -> None:
        """Feed `data` to the current unpacker and append every value it completes."""
        unpacker = self._unpacker
        try:
            unpacker.feed(data)
        except msgpack.BufferFull:
            raise DecodeError(f"message larger than {self.limits.max_message_bytes} bytes") from None
        self._fed += len(data)
        try:
            for value in unpacker:
                values.append(value)
                self._boundary = unpacker.tell()
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
