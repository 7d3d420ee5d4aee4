"""The entry envelope and its canonical bytes: the one definition of what is logged.

DESIGN.md "Formats / Entry and leaf". An entry is a JSON object with exactly the keys

    v       1 (the envelope version)
    id      non-empty string, unique per entry (for example a UUID)
    kind    non-empty string: "record", "vetting.decision", ...
    unit    non-empty string: the code of the authoring unit
    at      RFC 3339 UTC timestamp, "YYYY-MM-DDTHH:MM:SS[.fraction]Z"
    body    JSON object of public, non-personal fields
    sealed  string commitment to the personal part, or null

and the log commits to it as

    leaf_data = JCS(entry)                      (RFC 8785, UTF-8)
    leaf_hash = SHA-256(0x00 || leaf_data)      (RFC 9162 §2.1.1)

Canonical bytes come only from the ``rfc8785`` package (:func:`canonical_json`); nothing
here serialises JSON by hand. Parsing is strict: :meth:`Entry.from_leaf_data` accepts
exactly the bytes that :meth:`Entry.leaf_data` emits and nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal, NoReturn

import rfc8785

from ledger.errors import InvalidInputError
from ledger.merkle.rfc9162 import LEAF_HASH_PREFIX, hash_leaf

__all__ = [
    "ENTRY_FIELDS",
    "ENTRY_VERSION",
    "LEAF_HASH_PREFIX",
    "Entry",
    "EntryError",
    "canonical_json",
    "leaf_hash",
    "parse_utc_rfc3339",
    "utc_now_rfc3339",
]

ENTRY_VERSION: Final = 1
"""The only envelope version this module reads or writes (the ``v`` field)."""
ENTRY_FIELDS: Final = ("v", "id", "kind", "unit", "at", "body", "sealed")
"""The envelope keys, all required, no others allowed."""

_MAX_SAFE_INTEGER: Final = 2**53 - 1
_RFC3339_UTC = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z", re.ASCII
)


class EntryError(InvalidInputError):
    """An entry, its body or its leaf bytes break the envelope rules or RFC 8785."""

    code = "invalid_entry"


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value, via ``rfc8785.dumps``.

    Raises :class:`EntryError` for what I-JSON (RFC 7493, required by RFC 8785 §3.1)
    forbids: NaN and infinities, integers outside ±(2**53 - 1), non-string object keys,
    lone surrogates, and values that are not JSON at all.
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.IntegerDomainError as exc:
        raise EntryError(f"integer out of range: {exc}, want |n| <= 2**53 - 1") from exc
    except rfc8785.FloatDomainError as exc:
        raise EntryError(f"number not allowed: {exc}, want a finite number") from exc
    except rfc8785.CanonicalizationError as exc:
        raise EntryError(f"not canonicalisable as RFC 8785 JSON: {exc}") from exc
    except UnicodeError as exc:  # a lone surrogate in an object key, met while sorting
        raise EntryError(f"string is not valid Unicode (lone surrogate?): {exc}") from exc
    except RecursionError as exc:
        raise EntryError("JSON value nested too deeply") from exc


def leaf_hash(leaf_data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash, SHA-256(0x00 || leaf_data); the one in ledger.merkle."""
    return hash_leaf(leaf_data)


def parse_utc_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 §5.6 ``date-time`` in UTC ("...Z") to an aware datetime.

    Only the upper-case ``T`` and ``Z`` form is accepted (one spelling per instant
    offset); fractions of up to 9 digits are allowed and truncated to microseconds.
    Leap seconds (``:60``) are refused because ``datetime`` cannot hold them.
    """
    match = _RFC3339_UTC.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise EntryError(
            f"at: got {value!r}, want an RFC 3339 UTC time like '2026-12-01T04:13:21Z'",
            field="at",
        )
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, UTC
        )
    except ValueError as exc:
        raise EntryError(f"at: got {value!r}, not a valid date: {exc}", field="at") from exc


def utc_now_rfc3339(
    now: datetime | None = None,
    *,
    timespec: Literal["seconds", "milliseconds", "microseconds"] = "seconds",
) -> str:
    """Format ``now`` (default: the current time) as an ``at`` value, "...Z" in UTC.

    ``now`` must be timezone-aware; it is converted to UTC. The fraction is cut to
    ``timespec`` (fixed width, so timestamps of one precision sort as strings).
    """
    if now is None:
        now = datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise EntryError("at: got a naive datetime, want a timezone-aware one", field="at")
    t = now.astimezone(UTC)
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if timespec == "milliseconds":
        text += f".{t.microsecond // 1000:03d}"
    elif timespec == "microseconds":
        text += f".{t.microsecond:06d}"
    return text + "Z"


_SCALARS = (str, int, float, bool, type(None))


def freeze_json(value: Any) -> Any:
    """A read-only deep copy of a JSON value: objects become mappingproxies, arrays tuples."""
    if type(value) in _SCALARS:  # the common case, first
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze_json(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze_json(item) for item in value)
    return value


def thaw_json(value: Any) -> Any:
    """The inverse of :func:`freeze_json`: plain dicts and lists, as ``json`` produces."""
    if isinstance(value, Mapping):
        return {key: thaw_json(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw_json(item) for item in value]
    return value


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_text(name: str, value: Any, *, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    want = "a non-empty string or null" if nullable else "a non-empty string"
    if not isinstance(value, str):
        raise EntryError(f"{name}: got {_type_name(value)}, want {want}", field=name)
    if not value:
        raise EntryError(f"{name}: got an empty string, want {want}", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EntryError(f"{name}: got {value!r}, not valid Unicode: {exc}", field=name) from exc


MAX_ID_LENGTH = 64
"""The longest entry id the log stores (log_leaves.entry_id)."""


@dataclass(frozen=True, eq=False)
class Entry:
    """One log entry (DESIGN.md "Formats / Entry and leaf"), validated on construction.

    ``body`` is stored as a read-only deep copy (mappingproxies and tuples), so an
    entry's leaf bytes can never drift from its fields. Two entries are equal exactly
    when their leaf data are equal.
    """

    v: int
    id: str
    kind: str
    unit: str
    at: str
    body: Mapping[str, Any]
    sealed: str | None
    _leaf_data: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if type(self.v) is not int or self.v != ENTRY_VERSION:
            got = self.v if type(self.v) is int else _type_name(self.v)
            raise EntryError(f"v: got {got}, want {ENTRY_VERSION}", field="v")
        for name in ("id", "kind", "unit", "at"):
            _check_text(name, getattr(self, name))
        if len(self.id) > MAX_ID_LENGTH:
            raise EntryError(
                f"id: got {len(self.id)} characters, want at most {MAX_ID_LENGTH}", field="id"
            )
        parse_utc_rfc3339(self.at)
        _check_text("sealed", self.sealed, nullable=True)
        if not isinstance(self.body, Mapping):
            raise EntryError(f"body: got {_type_name(self.body)}, want a JSON object", field="body")
        try:
            frozen = freeze_json(self.body)
        except RecursionError as exc:
            raise EntryError("body: JSON value nested too deeply", field="body") from exc
        object.__setattr__(self, "body", frozen)
        try:
            data = canonical_json(self.to_json())
        except EntryError as exc:
            raise EntryError(f"body: {exc.message}", field="body") from exc
        object.__setattr__(self, "_leaf_data", data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return self._leaf_data == other._leaf_data

    def __hash__(self) -> int:
        return hash(self._leaf_data)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Entry:
        """Validate a decoded JSON object as an entry; unknown or missing keys are errors."""
        if not isinstance(obj, Mapping):
            raise EntryError(f"entry: got {_type_name(obj)}, want a JSON object")
        missing = [name for name in ENTRY_FIELDS if name not in obj]
        if missing:
            raise EntryError(f"entry: missing field(s) {', '.join(missing)}", missing=missing)
        unknown = sorted(str(key) for key in obj if key not in ENTRY_FIELDS)
        if unknown:
            raise EntryError(f"entry: unknown field(s) {', '.join(unknown)}", unknown=unknown)
        return cls(**{name: obj[name] for name in ENTRY_FIELDS})

    @classmethod
    def from_leaf_data(cls, data: bytes | bytearray | memoryview) -> Entry:
        """Parse leaf bytes back to an entry; the inverse of :meth:`leaf_data`.

        Refuses invalid UTF-8, duplicate keys, NaN/Infinity literals and any bytes that
        are not the RFC 8785 canonical form of the entry they decode to.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EntryError(f"leaf data: got {_type_name(data)}, want bytes")
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
            obj = json.loads(
                text,
                object_pairs_hook=_unique_keys,
                parse_constant=_no_constant,
                parse_int=_parse_int,
            )
        except UnicodeDecodeError as exc:
            raise EntryError(f"leaf data is not UTF-8: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise EntryError(f"leaf data is not JSON: {exc}") from exc
        except RecursionError as exc:
            raise EntryError("leaf data: JSON nested too deeply") from exc
        entry = cls.from_json(obj)
        if entry.leaf_data() != raw:
            raise EntryError(
                "leaf data is not in RFC 8785 canonical form",
                got=raw,
                want=entry.leaf_data(),
            )
        return entry

    def to_json(self) -> dict[str, Any]:
        """The entry as plain JSON-ready Python values (dicts, lists, scalars)."""
        return {
            "v": self.v,
            "id": self.id,
            "kind": self.kind,
            "unit": self.unit,
            "at": self.at,
            "body": thaw_json(self.body),
            "sealed": self.sealed,
        }

    def leaf_data(self) -> bytes:
        """RFC 8785 canonical bytes of :meth:`to_json`: what the Merkle leaf commits to."""
        return self._leaf_data

    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 || leaf_data), RFC 9162 §2.1.1."""
        return leaf_hash(self._leaf_data)

    def at_datetime(self) -> datetime:
        """``at`` as an aware UTC datetime (fraction truncated to microseconds)."""
        return parse_utc_rfc3339(self.at)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise EntryError(f"leaf data has duplicate key {key!r}", key=key)
        out[key] = value
    return out


def _parse_int(literal: str) -> int | float:
    """JSON integers beyond ±(2**53 - 1) are read as the IEEE-754 doubles RFC 8785 sees.

    JCS writes a double such as 2**53 or 1e20 as an integer literal ("9007199254740992");
    reading it back as a Python int would put it outside the I-JSON integer range. As a
    double it re-serialises to the same bytes, and a literal that is not exactly a
    double's shortest form (e.g. 9007199254740993) fails the canonical-form check.
    """
    if len(literal.lstrip("-")) > 16:  # 2**53 - 1 has 16 digits; int() caps at 4300
        return float(literal)
    number = int(literal)
    return number if abs(number) <= _MAX_SAFE_INTEGER else float(literal)


def _no_constant(name: str) -> NoReturn:
    raise EntryError(f"leaf data has {name}, want a finite JSON number")
