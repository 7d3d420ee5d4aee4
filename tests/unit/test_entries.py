"""The entry envelope (DESIGN.md "Formats / Entry and leaf"): validation and leaf bytes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.entries import (
    ENTRY_FIELDS,
    LEAF_HASH_PREFIX,
    Entry,
    EntryError,
    canonical_json,
    leaf_hash,
    parse_utc_rfc3339,
    utc_now_rfc3339,
)
from ledger.errors import InvalidInputError

GOOD: dict[str, Any] = {
    "v": 1,
    "id": "0b0e5c3e-8a5e-4b8e-9d3c-1f2a3b4c5d6e",
    "kind": "record",
    "unit": "U-0101",
    "at": "2026-12-01T04:13:21Z",
    "body": {"title": "村委会会议纪要", "count": 3, "tags": ["a", "b"]},
    "sealed": None,
}
# The canonical bytes of GOOD, written out by hand: keys in UTF-16 order, no spaces,
# UTF-8 text unescaped.
GOOD_LEAF = (
    '{"at":"2026-12-01T04:13:21Z",'
    '"body":{"count":3,"tags":["a","b"],"title":"村委会会议纪要"},'
    '"id":"0b0e5c3e-8a5e-4b8e-9d3c-1f2a3b4c5d6e",'
    '"kind":"record","sealed":null,"unit":"U-0101","v":1}'
).encode()


def with_field(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def test_leaf_data_known_answer() -> None:
    assert Entry.from_json(GOOD).leaf_data() == GOOD_LEAF


def test_leaf_hash_known_answer() -> None:
    want = hashlib.sha256(b"\x00" + GOOD_LEAF).digest()
    entry = Entry.from_json(GOOD)
    assert entry.leaf_hash() == want
    assert leaf_hash(GOOD_LEAF) == want
    assert LEAF_HASH_PREFIX == b"\x00"


def test_round_trips() -> None:
    entry = Entry.from_json(GOOD)
    assert entry.to_json() == GOOD
    assert Entry.from_json(entry.to_json()) == entry
    assert Entry.from_leaf_data(entry.leaf_data()) == entry
    assert Entry.from_leaf_data(bytearray(GOOD_LEAF)) == entry
    assert Entry(**GOOD) == entry
    assert hash(Entry(**GOOD)) == hash(entry)


def test_sealed_commitment_and_fractional_seconds() -> None:
    entry = Entry.from_json(with_field(sealed="sha256:ab12", at="2026-12-01T04:13:21.123456789Z"))
    assert entry.sealed == "sha256:ab12"
    assert entry.at_datetime() == datetime(2026, 12, 1, 4, 13, 21, 123456, UTC)
    assert Entry.from_leaf_data(entry.leaf_data()) == entry


def test_entry_is_immutable_and_owns_its_body() -> None:
    body: dict[str, Any] = {"list": [1, 2], "obj": {"k": "v"}}
    entry = Entry.from_json(with_field(body=body))
    before = entry.leaf_data()
    body["list"].append(3)
    body["obj"]["k"] = "changed"
    assert entry.leaf_data() == before
    with pytest.raises(TypeError):
        entry.body["new"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        entry.kind = "other"  # type: ignore[misc]
    assert entry.to_json()["body"] == {"list": [1, 2], "obj": {"k": "v"}}


def test_equality_is_equality_of_leaf_bytes() -> None:
    one = Entry.from_json(with_field(body={"x": 1}))
    assert one == Entry.from_json(with_field(body={"x": 1.0}))  # both canonicalise to 1
    assert one != Entry.from_json(with_field(body={"x": True}))
    assert one != Entry.from_json(with_field(body={"x": 2}))


def test_error_type_and_code() -> None:
    with pytest.raises(InvalidInputError) as info:
        Entry.from_json(with_field(v=2))
    assert info.value.code == "invalid_entry"
    assert info.value.diagnostics()["field"] == "v"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"v": 2}, "v: got 2, want 1"),
        ({"v": True}, "v: got bool, want 1"),
        ({"v": "1"}, "v: got str, want 1"),
        ({"v": 1.0}, "v: got float, want 1"),
        ({"id": ""}, "id: got an empty string, want a non-empty string"),
        ({"id": 7}, "id: got int, want a non-empty string"),
        ({"id": "\ud800"}, "id: got '\\ud800', not valid Unicode"),
        ({"kind": None}, "kind: got null, want a non-empty string"),
        ({"unit": ["U1"]}, "unit: got list, want a non-empty string"),
        ({"at": "2026-12-01 04:13:21Z"}, "at: got '2026-12-01 04:13:21Z', want an RFC 3339"),
        ({"at": "2026-12-01T04:13:21+08:00"}, "at: got '2026-12-01T04:13:21+08:00', want"),
        ({"at": "2026-12-01T04:13:21z"}, "at: got '2026-12-01T04:13:21z', want"),
        ({"at": "2026-02-30T04:13:21Z"}, "at: got '2026-02-30T04:13:21Z', not a valid date"),
        ({"at": "2026-12-01T24:00:00Z"}, "at: got '2026-12-01T24:00:00Z', not a valid date"),
        ({"at": "２０２６-12-01T04:13:21Z"}, "at: got '２０２６-12-01T04:13:21Z', want"),
        ({"at": 1764562401}, "at: got int, want a non-empty string"),
        ({"body": []}, "body: got list, want a JSON object"),
        ({"body": None}, "body: got null, want a JSON object"),
        ({"body": {"x": float("nan")}}, "body: number not allowed: nan"),
        ({"body": {"x": 2**53}}, "body: integer out of range: 9007199254740992"),
        ({"body": {"x": b"raw"}}, "body: not canonicalisable"),
        ({"body": {1: "x"}}, "body: not canonicalisable as RFC 8785 JSON: object keys"),
        ({"sealed": ""}, "sealed: got an empty string, want a non-empty string or null"),
        ({"sealed": 0}, "sealed: got int, want a non-empty string or null"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(EntryError) as info:
        Entry.from_json(with_field(**changes))
    assert info.value.message.startswith(message), info.value.message


def test_missing_and_unknown_fields() -> None:
    partial = {k: v for k, v in GOOD.items() if k not in ("kind", "sealed")}
    with pytest.raises(EntryError, match=r"^entry: missing field\(s\) kind, sealed$"):
        Entry.from_json(partial)
    with pytest.raises(EntryError, match=r"^entry: unknown field\(s\) extra, name$"):
        Entry.from_json(with_field(name="张三", extra=1))
    with pytest.raises(EntryError, match=r"^entry: got list, want a JSON object$"):
        Entry.from_json([GOOD])  # type: ignore[arg-type]
    assert set(GOOD) == set(ENTRY_FIELDS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GOOD_LEAF.replace(b'"v":1}', b'"v":1} '), "leaf data is not in RFC 8785 canonical form"),
        (
            GOOD_LEAF.replace(b'"count":3', b'"count":3.0'),
            "leaf data is not in RFC 8785 canonical form",
        ),
        (GOOD_LEAF.replace(b'{"at"', b'{ "at"'), "leaf data is not in RFC 8785 canonical form"),
        (
            GOOD_LEAF.replace("村".encode(), b"\\u6751"),
            "leaf data is not in RFC 8785 canonical form",
        ),
        (GOOD_LEAF.replace(b'"at":"2026', b'"at":"\xff'), "leaf data is not UTF-8"),
        (b"\xef\xbb\xbf" + GOOD_LEAF, "leaf data is not JSON"),
        (GOOD_LEAF[:-1], "leaf data is not JSON"),
        (b"[]", "entry: got list, want a JSON object"),
    ],
    ids=["trailing-space", "float", "space", "escaped", "utf8", "bom", "truncated", "array"],
)
def test_from_leaf_data_rejects_non_canonical_bytes(data: bytes, message: str) -> None:
    with pytest.raises(EntryError) as info:
        Entry.from_leaf_data(data)
    assert info.value.message.startswith(message)


def test_non_canonical_error_carries_both_forms() -> None:
    data = GOOD_LEAF.replace(b'"count":3', b'"count":3.0')
    with pytest.raises(EntryError) as info:
        Entry.from_leaf_data(data)
    assert info.value.diagnostics()["got"] == data.hex()
    assert info.value.diagnostics()["want"] == GOOD_LEAF.hex()


def test_canonical_json_is_rfc8785() -> None:
    assert (
        canonical_json({"b": [1.0, -0.0, 1e21], "a": "é"}) == '{"a":"é","b":[1,0,1e+21]}'.encode()
    )


def test_utc_now_rfc3339_time_is_an_input() -> None:
    now = datetime(2026, 12, 1, 12, 13, 21, 987654, tzinfo=timezone(timedelta(hours=8)))
    assert utc_now_rfc3339(now) == "2026-12-01T04:13:21Z"
    assert utc_now_rfc3339(now, timespec="milliseconds") == "2026-12-01T04:13:21.987Z"
    assert utc_now_rfc3339(now, timespec="microseconds") == "2026-12-01T04:13:21.987654Z"
    assert parse_utc_rfc3339(utc_now_rfc3339(now, timespec="microseconds")) == now
    parse_utc_rfc3339(utc_now_rfc3339())
    with pytest.raises(EntryError, match="at: got a naive datetime, want a timezone-aware one"):
        utc_now_rfc3339(datetime(2026, 12, 1))


# Hypothesis: parse(emit(x)) == x for generated entries, with Chinese text in the body.

CHINESE = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.sampled_from("，。、"),
    max_size=12,
)
TEXT = CHINESE | st.text(max_size=12)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)
NON_EMPTY = st.text(min_size=1, max_size=20)
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
ENTRIES = st.builds(
    Entry,
    v=st.just(1),
    id=st.uuids().map(str),
    kind=st.sampled_from(["record", "vetting.decision", "grant.issued"]) | NON_EMPTY,
    unit=NON_EMPTY,
    at=st.builds(utc_now_rfc3339, TIMES, timespec=st.sampled_from(["seconds", "microseconds"])),
    body=st.dictionaries(CHINESE | TEXT, JSON_VALUES, max_size=5),
    sealed=st.none() | NON_EMPTY,
)


@given(ENTRIES)
def test_leaf_data_round_trip(entry: Entry) -> None:
    data = entry.leaf_data()
    again = Entry.from_leaf_data(data)
    assert again == entry
    assert again.leaf_data() == data
    assert again.leaf_hash() == hashlib.sha256(b"\x00" + data).digest()
    assert Entry.from_json(entry.to_json()) == entry


@given(ENTRIES, st.data())
def test_any_single_byte_change_is_rejected_or_changes_the_entry(
    entry: Entry, data: st.DataObject
) -> None:
    leaf = bytearray(entry.leaf_data())
    index = data.draw(st.integers(0, len(leaf) - 1))
    leaf[index] ^= data.draw(st.integers(1, 255))
    try:
        other = Entry.from_leaf_data(bytes(leaf))
    except EntryError:
        return
    assert other != entry
    assert other.leaf_hash() != entry.leaf_hash()


@pytest.mark.parametrize("number", [2.0**53, -(2.0**53), 1e20, 2.0**68, 1.7976931348623157e308])
def test_large_integral_doubles_round_trip(number: float) -> None:
    entry = Entry.from_json(with_field(body={"n": number}))
    assert b'"n":' + canonical_json(number) in entry.leaf_data()
    assert Entry.from_leaf_data(entry.leaf_data()) == entry


def test_integer_literal_that_is_not_a_shortest_double_is_rejected() -> None:
    canonical = Entry.from_json(with_field(body={"n": 2.0**53})).leaf_data()
    assert b'"n":9007199254740992' in canonical
    with pytest.raises(EntryError, match="leaf data is not in RFC 8785 canonical form"):
        Entry.from_leaf_data(canonical.replace(b"9007199254740992", b"9007199254740993"))


def test_an_id_longer_than_the_log_stores_is_refused() -> None:
    good = {
        "v": 1,
        "id": "x" * 64,
        "kind": "record",
        "unit": "DEMO-V01",
        "at": "2026-12-01T08:00:00Z",
        "body": {},
        "sealed": None,
    }
    assert Entry.from_json(good).id == "x" * 64
    with pytest.raises(EntryError, match="id: got 65 characters, want at most 64"):
        Entry.from_json({**good, "id": "x" * 65})
