"""RFC 8785 (JCS) conformance of :func:`ledger.entries.canonical_json`.

Vectors: tests/vectors/jcs-rfc8785/ (cyberphone reference pairs, RFC 8785 Appendix B,
the upstream es6testfile_10000.txt). See that folder's README for source and licence.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from ledger.entries import Entry, EntryError, canonical_json

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "jcs-rfc8785"
CYBERPHONE = VECTORS / "cyberphone"
CYBERPHONE_CASES = ["arrays", "french", "structures", "unicode", "values", "weird"]
APPENDIX_B: list[dict[str, Any]] = json.loads(
    (VECTORS / "rfc8785-appendix-b-numbers.json").read_text(encoding="utf-8")
)
ES6_FILE = VECTORS / "es6-numbers" / "es6testfile_10000.txt"
ES6_SHA256 = "b9f7a8e75ef22a835685a52ccba7f7d6bdc99e34b010992cbc5864cd12be6892"


def float_from_bits(hex_bits: str) -> float:
    """The IEEE-754 binary64 value whose big-endian bits are ``hex_bits`` (1-16 hex)."""
    value: float = struct.unpack(">d", int(hex_bits, 16).to_bytes(8, "big"))[0]
    return value


def test_cyberphone_case_list_is_complete() -> None:
    assert sorted(p.stem for p in (CYBERPHONE / "input").iterdir()) == CYBERPHONE_CASES


@pytest.mark.parametrize("name", CYBERPHONE_CASES)
def test_cyberphone_reference_pairs(name: str) -> None:
    source = json.loads((CYBERPHONE / "input" / f"{name}.json").read_bytes())
    expected = (CYBERPHONE / "output" / f"{name}.json").read_bytes()
    expected_hex = bytes.fromhex((CYBERPHONE / "outhex" / f"{name}.txt").read_text())
    assert expected == expected_hex
    assert canonical_json(source) == expected
    # Canonical bytes are a fixed point.
    assert canonical_json(json.loads(expected)) == expected


def test_appendix_b_has_all_26_rows() -> None:
    assert len(APPENDIX_B) == 26
    assert sum(row["must_fail"] for row in APPENDIX_B) == 2


@pytest.mark.parametrize(
    "row", APPENDIX_B, ids=[f"{r['ieee754_hex']}-{r['comment'] or 'row'}" for r in APPENDIX_B]
)
def test_rfc8785_appendix_b_numbers(row: dict[str, Any]) -> None:
    value = float_from_bits(row["ieee754_hex"])
    if row["must_fail"]:
        with pytest.raises(EntryError, match="want a finite number") as info:
            canonical_json(value)
        assert info.value.code == "invalid_entry"
        with pytest.raises(EntryError):
            canonical_json({"n": [value]})
    else:
        assert canonical_json(value) == row["expected"].encode("ascii")


def test_es6_number_file_all_10000_lines() -> None:
    data = ES6_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == ES6_SHA256
    lines = data.decode("ascii").splitlines()
    failures = []
    for line in lines:
        hex_bits, expected = line.split(",")
        got = canonical_json(float_from_bits(hex_bits)).decode("ascii")
        if got != expected:
            failures.append((hex_bits, got, expected))
    assert len(lines) == 10_000
    assert failures == []


# Negative cases of our own: what I-JSON (RFC 7493) forbids and RFC 8785 §3.1 rejects.

MAX_SAFE = 2**53 - 1


@pytest.mark.parametrize("n", [MAX_SAFE, -MAX_SAFE, 0])
def test_integers_inside_the_safe_range_pass(n: int) -> None:
    assert canonical_json(n) == str(n).encode()


@pytest.mark.parametrize("n", [MAX_SAFE + 1, -MAX_SAFE - 1, 2**64, -(2**70)])
def test_integers_beyond_2_53_fail(n: int) -> None:
    with pytest.raises(EntryError, match=r"integer out of range: .*want \|n\| <= 2\*\*53 - 1"):
        canonical_json({"n": n})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_floats_fail(value: float) -> None:
    with pytest.raises(EntryError, match="want a finite number"):
        canonical_json([value])


@pytest.mark.parametrize(
    "value",
    ["\ud800", "a\udfffb", {"\udc00": 1}, {"k": ["\ud83d"]}],
    ids=["lone-high", "lone-low", "in-key", "nested"],
)
def test_lone_surrogates_fail(value: Any) -> None:
    with pytest.raises(EntryError):
        canonical_json(value)


def test_paired_surrogates_are_one_character() -> None:
    assert canonical_json("\U0001f602") == '"\U0001f602"'.encode()


@pytest.mark.parametrize("value", [{1: "x"}, {None: 1}, b"bytes", {1, 2}, object()], ids=str)
def test_non_json_values_fail(value: Any) -> None:
    with pytest.raises(EntryError, match="not canonicalisable"):
        canonical_json(value)


def test_deep_nesting_fails_cleanly() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(EntryError, match="nested too deeply"):
        canonical_json(value)


LEAF = (
    b'{"at":"2026-12-01T04:13:21Z","body":{},"id":"e1","kind":"record",'
    b'"sealed":null,"unit":"U1","v":1}'
)


def test_leaf_data_fixture_is_canonical() -> None:
    assert Entry.from_leaf_data(LEAF).leaf_data() == LEAF


@pytest.mark.parametrize(
    "data",
    [
        LEAF.replace(b'"v":1}', b'"v":1,"v":1}'),
        LEAF.replace(b'"body":{}', b'"body":{"a":1,"a":2}'),
    ],
    ids=["top-level", "in-body"],
)
def test_duplicate_keys_in_leaf_data_fail(data: bytes) -> None:
    with pytest.raises(EntryError, match="duplicate key"):
        Entry.from_leaf_data(data)


@pytest.mark.parametrize(
    "literal",
    [
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1e400",
        b"9" * 5000,
        b"9007199254740993",
        b"-0",
        b"1E3",
        b"1.50",
    ],
)
def test_non_ijson_or_non_canonical_numbers_in_leaf_data_fail(literal: bytes) -> None:
    with pytest.raises(EntryError):
        Entry.from_leaf_data(LEAF.replace(b'"body":{}', b'"body":{"n":' + literal + b"}"))


def test_lone_surrogate_escape_in_leaf_data_fails() -> None:
    with pytest.raises(EntryError, match="body"):
        Entry.from_leaf_data(LEAF.replace(b'"body":{}', b'"body":{"s":"\\ud800"}'))
