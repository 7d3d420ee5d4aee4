"""Personal data at rest: sealing, salted commitments, blind indexes, erasure.

Pure functions of bytes and keys: no database, no web, no chain. DOMAIN.md §4.1 lists what
must never reach the log or the chain (names, ID numbers, ...). A record's personal data
is kept off the log in three pieces, all stored beside the record in the database:

* the **sealed data** (:class:`SealedData`): the RFC 8785 canonical JSON of the personal
  data, encrypted with AES-256-GCM under a fresh random 256-bit **data key** per record,
  with the record id as associated data, so ciphertext moved to another record does
  not open;
* the **wrapped data key** (:class:`DataKey`): that data key encrypted with AES-256-GCM
  under a key-wrapping key derived from the :class:`MasterKey` (HKDF-SHA256), again with
  the record id as associated data. The master key lives outside the database;
* the **salt** (:func:`new_salt`): 128 random bits, used by :func:`commitment`.

The log entry carries only ``commitment(personal, salt)``:
``"sha256:" + hex(SHA-256(b"civic-ledger/sealed/v1\\x00" || salt || JCS(personal)))``.

Why the salt is needed: an unsalted (or publicly salted) hash of personal data can be
inverted by trying every candidate. Within one county (address code 222404) there are
about 25,000 birth dates × 1,000 sequence numbers ≈ 2.5×10⁷ possible ID numbers, since
the check digit is fixed by the rest (DOMAIN.md §4.1); hashing them all takes seconds.
A secret 128-bit salt per record makes that search 2¹²⁸ per commitment. The salt has a
fixed width (:data:`SALT_BYTES`) so that the split between salt and JSON is unambiguous
and the commitment binds to exactly one (salt, personal data) pair.

Erasure (PIPL Art. 47) is crypto-shredding: destroy the record's wrapped data key and its
salt (and its blind-index rows). The log is append-only and keeps the leaf, which still
verifies in every inclusion and consistency proof, but the commitment in it can no
longer be opened or brute-forced, and the sealed bytes can no longer be decrypted.

A **blind index** (:func:`blind_index`) is a keyed HMAC-SHA256 of a value such as an ID
number under a second key derived from the master key, so a person can be found or
deduplicated by ID number without decrypting anything. Without the master key it
reveals nothing; with it, a county's ID numbers can be enumerated, so it is as sensitive
as the master key allows and is never logged or exported.

The algorithms are fixed per version (``v1`` in every label). DOMAIN.md §4.2 names SM4
and HMAC-SM3 as the national-standard choices; those would be a new version with new
labels, not a change to this one.

Time and randomness are inputs where a known-answer test needs them: :func:`seal` takes
keyword-only ``data_key_bytes``, ``nonce`` and ``wrap_nonce`` for tests only.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.config import ConfigError
from ledger.entries import EntryError, canonical_json
from ledger.errors import InvalidInputError, LedgerError

__all__ = [
    "BLIND_INDEX_INFO",
    "COMMITMENT_PREFIX",
    "KEY_BYTES",
    "NONCE_BYTES",
    "SALT_BYTES",
    "WRAP_INFO",
    "DataKey",
    "MasterKey",
    "SealedData",
    "SealingError",
    "blind_index",
    "commitment",
    "new_salt",
    "open_rows",
    "open_sealed",
    "row_associated_data",
    "seal",
    "seal_rows",
]

KEY_BYTES: Final = 32
"""Length of the master key and of every data key (AES-256)."""
NONCE_BYTES: Final = 12
"""AES-GCM nonce length (96 bits, random per encryption)."""
SALT_BYTES: Final = 16
"""Commitment salt length: 128 random bits, exactly."""
WRAP_INFO: Final = b"civic-ledger/v1/wrap"
"""HKDF ``info`` of the key-wrapping key."""
BLIND_INDEX_INFO: Final = b"civic-ledger/v1/blind-index"
"""HKDF ``info`` of the blind-index key."""
COMMITMENT_PREFIX: Final = b"civic-ledger/sealed/v1\x00"
"""Domain separation of :func:`commitment`, hashed before the salt."""
ROW_PREFIX: Final = b"civic-ledger/row/v1\x00"
"""Domain separation of a row's associated data (:func:`row_associated_data`)."""

_GCM_TAG_BYTES: Final = 16
_WRAPPED_BYTES: Final = NONCE_BYTES + KEY_BYTES + _GCM_TAG_BYTES
_MIN_DISTINCT_KEY_BYTES: Final = 8
"""A random 32-byte key has fewer distinct byte values with probability below 1e-36."""


class SealingError(LedgerError):
    """Sealed data does not open: wrong master key, wrong record id, or tampered bytes.

    A server-side failure, not a bad request: the stored pieces and the key disagree.
    """

    code = "sealed_data_unreadable"


class MasterKey:
    """The 32-byte root of the sealing keys. Never printed: ``repr`` shows no key bytes.

    Two subkeys are derived from it with HKDF-SHA256 (no salt, distinct ``info``): the
    key-wrapping key (:data:`WRAP_INFO`) and the blind-index key (:data:`BLIND_INDEX_INFO`).
    Raises :class:`~ledger.config.ConfigError` (``invalid_configuration``) for a key of
    the wrong length or a placeholder (all bytes equal, or fewer than 8 distinct values).
    """

    __slots__ = ("_index_key", "_key", "_wrap_key")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes):
            raise ConfigError(f"master key is a {type(key).__name__}, want bytes")
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"master key is {len(key)} bytes, want {KEY_BYTES}", got_bytes=len(key)
            )
        distinct = len(set(key))
        if distinct < _MIN_DISTINCT_KEY_BYTES:
            raise ConfigError(
                f"master key has only {distinct} distinct byte values (a placeholder such as "
                f"all zeros?), want {KEY_BYTES} random bytes (MasterKey.generate())",
                got_distinct=distinct,
            )
        self._key = key
        self._wrap_key = _hkdf(key, WRAP_INFO)
        self._index_key = _hkdf(key, BLIND_INDEX_INFO)

    @classmethod
    def generate(cls) -> MasterKey:
        """A new random master key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """Read a key from base64, standard or URL-safe, padded or not, of exactly 32 bytes.

        Surrounding whitespace is ignored. Raises :class:`~ledger.config.ConfigError`;
        its message never contains the text.
        """
        if not isinstance(text, str):
            raise ConfigError(f"master key is a {type(text).__name__}, want base64 text")
        cleaned = text.strip().replace("-", "+").replace("_", "/")
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            key = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"master key is not base64, want base64 of {KEY_BYTES} random bytes"
            ) from None
        return cls(key)

    def to_text(self) -> str:
        """Standard, padded base64 of the key: what :meth:`from_text` reads back."""
        return base64.b64encode(self._key).decode("ascii")

    def __repr__(self) -> str:
        return "MasterKey(<redacted>)"

    def _wrap(self, data_key: bytes, associated: bytes, nonce: bytes) -> bytes:
        return nonce + AESGCM(self._wrap_key).encrypt(nonce, data_key, associated)

    def _unwrap(self, wrapped: bytes, associated: bytes) -> bytes:
        if len(wrapped) != _WRAPPED_BYTES:
            raise SealingError(
                f"wrapped data key is {len(wrapped)} bytes, want {_WRAPPED_BYTES}",
                stage="unwrap",
            )
        try:
            return AESGCM(self._wrap_key).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], associated
            )
        except InvalidTag:
            raise SealingError(
                "data key does not unwrap: wrong master key, wrong record id, "
                "or tampered wrapped key",
                stage="unwrap",
            ) from None

    def _blind_index(self, message: bytes) -> str:
        mac = HMAC(self._index_key, hashes.SHA256())
        mac.update(message)
        return mac.finalize().hex()


@dataclass(frozen=True)
class SealedData:
    """Personal data encrypted with AES-256-GCM under a record's data key."""

    nonce: bytes
    """12 random bytes."""
    ciphertext: bytes
    """The encrypted canonical JSON followed by the 16-byte GCM tag."""


@dataclass(frozen=True)
class DataKey:
    """A record's data key, wrapped under the master key's key-wrapping key.

    ``wrapped`` is ``nonce (12) || AES-256-GCM(wrap key, data key, aad=record id)``,
    60 bytes. Destroying it (with the salt) erases the record (crypto-shredding).
    """

    wrapped: bytes


def seal(
    master: MasterKey,
    record_id: str,
    personal: Mapping[str, Any],
    *,
    data_key_bytes: bytes | None = None,
    nonce: bytes | None = None,
    wrap_nonce: bytes | None = None,
) -> tuple[DataKey, SealedData]:
    """Encrypt ``personal`` for the record ``record_id`` under a fresh data key.

    The plaintext is the RFC 8785 canonical JSON of ``personal``; the associated data of
    both encryptions is the record id in UTF-8. ``data_key_bytes`` (32), ``nonce`` and
    ``wrap_nonce`` (12 each) are test hooks for known answers; leave them unset.

    Raises :class:`~ledger.errors.InvalidInputError` for an empty record id or personal
    data that is not I-JSON (the message never quotes the data).
    """
    associated = _record_associated_data(record_id)
    plaintext = _canonical_personal(personal)
    data_key = _fixed(data_key_bytes, KEY_BYTES, "data key")
    data_nonce = _fixed(nonce, NONCE_BYTES, "nonce")
    key_nonce = _fixed(wrap_nonce, NONCE_BYTES, "wrap nonce")
    ciphertext = AESGCM(data_key).encrypt(data_nonce, plaintext, associated)
    wrapped = master._wrap(data_key, associated, key_nonce)
    return DataKey(wrapped=wrapped), SealedData(nonce=data_nonce, ciphertext=ciphertext)


def open_sealed(
    master: MasterKey, record_id: str, data_key: DataKey, sealed: SealedData
) -> dict[str, Any]:
    """Decrypt what :func:`seal` produced for ``record_id``: the personal data as a dict.

    Raises :class:`SealingError` (``sealed_data_unreadable``) when the master key, the
    record id, the wrapped key, the nonce or the ciphertext is not the one sealed.
    """
    associated = _record_associated_data(record_id)
    key = master._unwrap(data_key.wrapped, associated)
    if len(sealed.nonce) != NONCE_BYTES:
        raise SealingError(
            f"sealed data nonce is {len(sealed.nonce)} bytes, want {NONCE_BYTES}",
            stage="decrypt",
        )
    try:
        plaintext = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, associated)
    except InvalidTag:
        raise SealingError(
            "sealed data does not decrypt: wrong record id or tampered nonce or ciphertext",
            stage="decrypt",
        ) from None
    try:
        value = json.loads(plaintext)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise SealingError("sealed data is not a JSON object", stage="decode")
    return value


# ---- many rows under one data key -----------------------------------------------------------


def row_associated_data(batch_id: str, label: str) -> bytes:
    """``ROW_PREFIX || utf8(batch_id) || 0x00 || utf8(label)``: what binds a row to its place.

    ``batch_id`` may not contain NUL, so the split between it and ``label`` is unambiguous.
    The prefix keeps a row's ciphertext from ever opening as a record's (:func:`seal`).
    """
    batch = _record_associated_data(batch_id)
    if b"\x00" in batch:
        raise InvalidInputError("batch id contains NUL, want a record id", field="batch_id")
    return ROW_PREFIX + batch + b"\x00" + _utf8(label, "row label")


def seal_rows(
    master: MasterKey,
    batch_id: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    labels: Sequence[str] | None = None,
    data_key_bytes: bytes | None = None,
    wrap_nonce: bytes | None = None,
) -> tuple[DataKey, list[SealedData]]:
    """Encrypt ``rows`` (a bulk ingest) under ONE fresh data key for the batch ``batch_id``.

    Each row's plaintext is its RFC 8785 canonical JSON, encrypted with AES-256-GCM under
    a random 12-byte nonce of its own and associated data
    ``row_associated_data(batch_id, labels[i])``; without ``labels`` the label is the
    row's position ``str(i)``. A label names where the row belongs (its position, or
    the columns the database selects it by), so a ciphertext moved elsewhere does not open.
    The data key is wrapped exactly as :func:`seal` wraps a record's, with ``batch_id`` as
    associated data: erasing the batch is destroying that one wrapped key.

    One key may encrypt at most 2**32 rows with random nonces (NIST SP 800-38D §8.3); a
    batch is far smaller. ``data_key_bytes`` and ``wrap_nonce`` are test hooks.
    Raises :class:`~ledger.errors.InvalidInputError` (the message never quotes a value).
    """
    row_labels = _row_labels(rows, labels)
    key_associated = _record_associated_data(batch_id)
    data_key = _fixed(data_key_bytes, KEY_BYTES, "data key")
    key_nonce = _fixed(wrap_nonce, NONCE_BYTES, "wrap nonce")
    aead = AESGCM(data_key)
    nonces = secrets.token_bytes(NONCE_BYTES * len(rows))
    base = row_associated_data(batch_id, "")
    boxes = []
    for i, (row, label) in enumerate(zip(rows, row_labels, strict=True)):
        try:
            plaintext = _canonical_personal(row)
        except InvalidInputError as exc:
            raise InvalidInputError(f"row {i}: {exc.message}", row=i) from None
        nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
        associated = base + _utf8(label, "row label")
        boxes.append(SealedData(nonce, aead.encrypt(nonce, plaintext, associated)))
    return DataKey(master._wrap(data_key, key_associated, key_nonce)), boxes


def open_rows(
    master: MasterKey,
    batch_id: str,
    data_key: DataKey,
    boxes: Sequence[SealedData],
    *,
    labels: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Decrypt rows that :func:`seal_rows` sealed for ``batch_id``, with the same labels.

    Without ``labels``, ``boxes`` must be the whole batch in its original order. Raises
    :class:`SealingError` if the key, the batch id, a label or any row's bytes differ.
    """
    row_labels = _row_labels(boxes, labels)
    aead = AESGCM(master._unwrap(data_key.wrapped, _record_associated_data(batch_id)))
    base = row_associated_data(batch_id, "")
    out = []
    for i, (box, label) in enumerate(zip(boxes, row_labels, strict=True)):
        try:
            plaintext = aead.decrypt(box.nonce, box.ciphertext, base + _utf8(label, "row label"))
        except (InvalidTag, ValueError):
            raise SealingError(
                f"row {i} does not decrypt: wrong batch, wrong label, or tampered bytes",
                stage="decrypt",
                row=i,
            ) from None
        try:
            value = json.loads(plaintext)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise SealingError(f"row {i} is not a JSON object", stage="decode", row=i)
        out.append(value)
    return out


def _row_labels(rows: Sequence[object], labels: Sequence[str] | None) -> Sequence[str]:
    if labels is None:
        return [str(i) for i in range(len(rows))]
    if len(labels) != len(rows):
        raise InvalidInputError(f"{len(labels)} labels for {len(rows)} rows, want one per row")
    return labels


def new_salt() -> bytes:
    """:data:`SALT_BYTES` random bytes for :func:`commitment`; keep it off the log."""
    return secrets.token_bytes(SALT_BYTES)


def commitment(personal: Mapping[str, Any], salt: bytes) -> str:
    """The salted commitment to ``personal`` that the log entry carries.

    ``"sha256:" + hex(SHA-256(COMMITMENT_PREFIX || salt || JCS(personal)))``. ``salt``
    must be exactly :data:`SALT_BYTES` bytes (shorter is guessable; a fixed width keeps the
    salt/JSON split unambiguous). Raises :class:`~ledger.errors.InvalidInputError`.
    """
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        got = f"{len(salt)} bytes" if isinstance(salt, bytes) else type(salt).__name__
        raise InvalidInputError(
            f"commitment salt is {got}, want exactly {SALT_BYTES} random bytes (new_salt())",
            field="salt",
        )
    digest = sha256(COMMITMENT_PREFIX + salt + _canonical_personal(personal)).hexdigest()
    return f"sha256:{digest}"


def blind_index(master: MasterKey, kind: str, value: str) -> str:
    """Hex HMAC-SHA256, under the blind-index key, of ``kind || 0x00 || value`` (UTF-8).

    Deterministic for one master key, so equal values (e.g. kind ``"id_number"`` and a
    normalised :attr:`ledger.idcard.IdNumber.value`) find each other without decryption.
    ``kind`` must be non-empty and free of NUL, so that (kind, value) pairs never collide.
    Normalise ``value`` before calling: ``"x"`` and ``"X"`` index differently.
    """
    if not isinstance(kind, str) or not kind or "\x00" in kind:
        raise InvalidInputError(
            "blind index kind is empty or contains NUL, want a label like 'id_number'",
            field="kind",
        )
    message = _utf8(kind, "blind index kind") + b"\x00" + _utf8(value, "blind index value")
    return master._blind_index(message)


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _fixed(given: bytes | None, size: int, what: str) -> bytes:
    if given is None:
        return secrets.token_bytes(size)
    if len(given) != size:
        raise InvalidInputError(f"{what} is {len(given)} bytes, want {size}", field=what)
    return given


def _utf8(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} is a {type(text).__name__}, want a string")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode (lone surrogate?)") from None


def _record_associated_data(record_id: str) -> bytes:
    if isinstance(record_id, str) and not record_id:
        raise InvalidInputError("record id is empty, want the record's id", field="record_id")
    return _utf8(record_id, "record id")


def _canonical_personal(personal: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of ``personal``; errors name the problem, never the data."""
    if not isinstance(personal, Mapping):
        raise InvalidInputError(
            f"personal data is a {type(personal).__name__}, want a JSON object",
            field="personal",
        )
    try:
        return canonical_json(dict(personal))
    except EntryError as exc:
        # canonical_json's message may quote the offending value (an ID number given as
        # an integer, say); keep only the kind of failure.
        reason = type(exc.__cause__).__name__ if exc.__cause__ is not None else "invalid"
        raise InvalidInputError(
            f"personal data is not RFC 8785 JSON ({reason}), want strings, safe integers, "
            "finite numbers, booleans, null, lists and objects with string keys",
            field="personal",
        ) from None
