"""Hard limits on everything the channel decodes from its peer."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Decode limits; a message over any of them is a protocol violation that closes the channel.

    `max_message_bytes` bounds the reader's buffer, so one message (and the memory
    held for it) can never exceed it. `max_containers` bounds the arrays and maps
    of one message in total: without it, 8 MiB of empty arrays would cost ~450 MiB
    of Python lists. Every container takes at least a byte, so only messages longer
    than `max_containers` bytes need counting (`codec.Decoder` counts only those).
    Nesting is bounded by msgpack's own fixed stack (1024 levels).
    `max_queued_calls` bounds the peer's calls (requests and notifications) received
    and not yet started: a peer that sends them faster than our handlers finish
    cannot grow the queue without end.
    """

    max_message_bytes: int = 8 * MiB
    max_str_bytes: int = 8 * MiB
    max_bin_bytes: int = 8 * MiB
    max_array_len: int = 1_000_000
    max_map_len: int = 1_000_000
    max_ext_bytes: int = 8 * MiB
    max_containers: int = 100_000
    max_queued_calls: int = 10_000
