"""The codec and framing under any input: round trips, any chunking, arbitrary bytes, limits."""

from __future__ import annotations

import datetime
import tracemalloc

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuvom.ipc.codec import Decoder, DecodeError, JobBatch, RemoteErrorInfo, encode
from nuvom.ipc.errors import EncodeError
from nuvom.ipc.framing import FramingError, MessageReader, Notification, Request, Response, notification, request, response
from nuvom.ipc.codec import new_packer
from nuvom.ipc.limits import Limits
from nuvom.job import JOB_FIELDS, Job, JobStatus, TimeoutPolicy

scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text() | st.binary()
)
jobs = st.builds(
    Job,
    func_name=st.text(min_size=1),
    args=st.lists(scalars, max_size=3),
    kwargs=st.dictionaries(st.text(), scalars, max_size=3),
    retries_left=st.integers(0, 5),
    timeout_secs=st.none() | st.floats(0, 100),
    status=st.sampled_from(JobStatus),
    timeout_policy=st.sampled_from(TimeoutPolicy),
    next_retry_at=st.none() | st.floats(0, 2e9),
    attempts=st.integers(0, 10),
)
# Datetimes travel as ISO text with a fixed UTC offset: a zone name (Europe/Paris) is not carried.
fixed_offsets = st.builds(
    datetime.timezone,
    st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)).map(
        lambda delta: datetime.timedelta(minutes=delta // datetime.timedelta(minutes=1))
    ),
)
datetimes = st.datetimes() | st.datetimes(timezones=fixed_offsets)
errors = st.builds(RemoteErrorInfo, st.text(), st.text(), st.text())
values = st.recursive(
    scalars | jobs | datetimes | errors,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=15,
)


def decode_one(data: bytes):
    decoded = Decoder().feed(data)
    assert len(decoded) == 1
    return decoded[0]


@given(values)
def test_every_value_the_codec_accepts_round_trips(value):
    assert decode_one(encode(value)) == value


def test_tuples_travel_as_lists_and_exceptions_as_data():
    try:
        raise KeyError("missing")
    except KeyError as error:
        info = decode_one(encode(error))
    assert isinstance(info, RemoteErrorInfo) and info.type == "KeyError" and "missing" in info.traceback
    assert decode_one(encode((1, (2, 3)))) == [1, [2, 3]]


def test_a_value_that_cannot_travel_names_what_and_the_type():
    with pytest.raises(EncodeError, match=r"cannot encode params of 'resize'.*builtins\.set"):
        encode({"x": {1, 2}}, what="params of 'resize'")


messages = st.one_of(
    st.builds(lambda i, m, p: request(new_packer(), i, m, p), st.integers(0, 2**32 - 1), st.text(), st.lists(values, max_size=3)),
    st.builds(lambda i, e, r: response(new_packer(), i, e, r), st.integers(0, 2**32 - 1), st.none() | errors, values),
    st.builds(lambda m, p: notification(new_packer(), m, p), st.text(), st.lists(values, max_size=3)),
)


@given(st.lists(messages, min_size=1, max_size=6), st.data())
def test_any_split_of_a_valid_stream_decodes_to_the_same_messages(encoded, data):
    stream = b"".join(encoded)
    expected = MessageReader().feed(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = MessageReader()
    got = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        got.extend(reader.feed(stream[start:end]))
    assert got == expected and len(got) == len(encoded)
    assert all(isinstance(m, (Request, Response, Notification)) for m in got)


def decode_in_pieces(stream: bytes, cuts: list[int], limits: Limits) -> list | str:
    """The messages decoded from `stream` fed in pieces cut at `cuts`, or the error's text."""
    reader = MessageReader(limits)
    got = []
    try:
        for start, end in zip([0, *cuts], [*cuts, len(stream)]):
            got.extend(reader.feed(stream[start:end]))
    except FramingError as error:
        return str(error)
    return got


@given(st.lists(messages, min_size=1, max_size=6), st.integers(4, 80), st.data())
def test_any_split_decodes_like_the_whole_stream_whatever_the_container_budget(encoded, budget, data):
    # Small budgets make messages cross the size where the decoder starts counting containers.
    stream = b"".join(encoded)
    limits = Limits(max_containers=budget)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    assert decode_in_pieces(stream, cuts, limits) == decode_in_pieces(stream, [], limits)


def params_of_empty_arrays(count: int) -> bytes:
    return msgpack.packb([0, 1, "m", [[] for _ in range(count)]])


@given(st.integers(10, 300), st.data())
def test_the_container_budget_holds_exactly_however_the_message_is_split(budget, data):
    fits, over = params_of_empty_arrays(budget - 2), params_of_empty_arrays(budget - 1)  # + message + params
    for stream, fails in ((fits, False), (over, True), (fits + over, True), (over + fits, True)):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
        outcome = decode_in_pieces(stream, cuts, Limits(max_containers=budget))
        if fails:
            assert outcome == f"message has more than {budget} arrays and maps"
        else:
            assert len(outcome) == 1 and len(outcome[0].params) == budget - 2


def test_a_container_bomb_trickling_in_byte_by_byte_is_refused():
    stream = params_of_empty_arrays(5000)
    assert decode_in_pieces(stream, list(range(1, len(stream))), Limits(max_containers=1000)) == (
        "message has more than 1000 arrays and maps"
    )


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_messages_or_a_framing_error_and_nothing_else(garbage):
    reader = MessageReader(Limits(max_message_bytes=4096, max_containers=200))
    try:
        reader.feed(garbage)
    except FramingError:
        pass


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_arbitrary_chunks_never_escape_as_other_exceptions(chunks):
    reader = MessageReader(Limits(max_message_bytes=4096))
    try:
        for chunk in chunks:
            reader.feed(chunk)
    except FramingError:
        pass


@pytest.mark.parametrize(
    "data, reason",
    [
        (msgpack.packb([0, 1, "m", ["x" * 2000]]), "exceeds max_str_len"),
        (b"\xdd\xff\xff\xff\xff", "exceeds max_array_len"),
        (b"\x91" * 2000 + b"\xc0", "nested deeper"),
        (b"\xc6\x7f\xff\xff\xff" + b"x" * 70_000, "larger than 65536 bytes"),
        (msgpack.packb([0, 1, "m", [[]] * 300]), "more than 256 arrays and maps"),
        (msgpack.packb([5, 1, 2]), "not a request, response or notification"),
        (msgpack.packb([0, -1, "m", []]), "msgid must be an unsigned 32-bit integer"),
        (msgpack.packb([0, 1, 7, []]), "method must be a string"),
        (msgpack.packb([2, "m", {"not": "a list"}]), "params must be an array"),
        (msgpack.packb("hello"), "a message must be a non-empty array"),
        (msgpack.packb([0, 1, "m", [msgpack.ExtType(99, b"")]]), "unknown ext type 99"),
        (msgpack.packb([0, 1, "m", [msgpack.ExtType(1, b"\xc1")]]), "invalid ext type 1 payload"),
        (b"\xc1", "malformed msgpack"),
    ],
)
def test_limits_and_malformed_messages_are_named(data, reason):
    limits = Limits(max_message_bytes=65536, max_str_bytes=1000, max_array_len=1000, max_containers=256)
    with pytest.raises(FramingError, match=reason):
        MessageReader(limits).feed(data)


def test_a_message_claiming_gigabytes_costs_at_most_the_message_limit():
    limit = 1024 * 1024
    tracemalloc.start()
    try:
        reader = MessageReader(Limits(max_message_bytes=limit))
        with pytest.raises(FramingError, match="exceeds max_array_len"):
            MessageReader().feed(b"\xdd\x7f\xff\xff\xff")  # a 2-billion-element array header
        chunk = b"x" * 65536
        with pytest.raises(FramingError, match="larger than"):
            reader.feed(b"\xc6\x7f\xff\xff\xff")  # a 2 GiB binary, then its bytes trickle in
            for _ in range(64):
                reader.feed(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * limit, f"peak {peak} bytes for a {limit}-byte limit"


def test_container_bombs_are_bounded_by_the_container_budget():
    payload = msgpack.packb([0, 1, "m", [[] for _ in range(200_000)]])  # 200 KB of empty arrays
    with pytest.raises(FramingError, match="more than 100000 arrays and maps"):
        MessageReader().feed(payload)


def test_naive_and_aware_datetimes_keep_their_kind():
    naive = datetime.datetime(2026, 11, 24, 12, 30, 1, 5)
    aware = naive.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
    assert decode_one(encode([naive, aware])) == [naive, aware]
    assert decode_one(encode(aware)).utcoffset() == datetime.timedelta(hours=-5)


def test_a_named_zone_arrives_as_the_same_instant_with_its_offset():
    from zoneinfo import ZoneInfo

    paris = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
    arrived = decode_one(encode(paris))
    assert arrived.timestamp() == paris.timestamp() and arrived.utcoffset() == datetime.timedelta(hours=2)


def test_decode_error_is_a_value_error():
    assert issubclass(DecodeError, ValueError)


def job_ext(payload) -> bytes:
    return msgpack.packb(msgpack.ExtType(1, msgpack.packb(payload, use_bin_type=True)), use_bin_type=True)


@given(jobs)
def test_a_job_sent_as_a_map_by_another_host_decodes_like_the_array_form(job):
    assert decode_one(job_ext(job.to_dict())) == job


def test_a_job_array_from_a_newer_peer_ignores_the_fields_it_adds():
    job = Job("task", args=[1], kwargs={"k": "v"}, attempts=2)
    values = job.to_values()
    assert len(values) == len(JOB_FIELDS)
    assert decode_one(job_ext([*values, "a field from the future"])) == job
    shorter = decode_one(job_ext(values[:3]))  # an older peer: missing fields take their defaults
    assert (shorter.func_name, shorter.args, shorter.kwargs, shorter.attempts) == ("task", [1], {"k": "v"}, 0)


@pytest.mark.parametrize("payload", [[], [1, 2], ["task", [], {}, "id", "NOT_A_STATUS"], {"args": []}])
def test_a_malformed_job_is_a_decode_error_naming_the_ext_type(payload):
    with pytest.raises(DecodeError, match="invalid ext type 1 payload"):
        Decoder().feed(job_ext(payload))


@given(st.lists(jobs, max_size=20))
def test_a_job_batch_arrives_as_the_list_of_its_jobs(batch):
    assert decode_one(encode(JobBatch(batch))) == batch


def test_a_job_batch_counts_every_array_and_map_inside_against_the_container_budget():
    batch = encode(JobBatch([Job("t") for _ in range(50)]))
    containers = 1 + 1 + 50 * 3  # the ext, the batch's array, and each job's fields, args and kwargs
    with pytest.raises(DecodeError, match=f"more than {containers - 1} arrays and maps"):
        Decoder(Limits(max_containers=containers - 1)).feed(batch)
    assert len(Decoder(Limits(max_containers=containers)).feed(batch)[0]) == 50


def test_an_ext_payload_cannot_hide_arrays_from_the_container_budget():
    hidden = b"\xdd" + (50_000).to_bytes(4, "big") + b"\x90" * 50_000  # one array of 50,000 empty arrays
    with pytest.raises(DecodeError, match="more than 1000 arrays and maps"):
        Decoder(Limits(max_containers=1000)).feed(msgpack.packb(msgpack.ExtType(1, hidden)))


@pytest.mark.parametrize("payload", [{"not": "a list"}, [[1, 2]], ["job"]])
def test_a_malformed_job_batch_is_a_decode_error(payload):
    data = msgpack.packb(msgpack.ExtType(4, msgpack.packb(payload)))
    with pytest.raises(DecodeError, match="invalid ext type 4 payload"):
        Decoder().feed(data)
