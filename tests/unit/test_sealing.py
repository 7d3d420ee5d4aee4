"""Sealing personal data at rest, salted commitments and blind indexes (DOMAIN.md §4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from ledger.config import ConfigError
from ledger.errors import InvalidInputError, LedgerError
from ledger.sealing import (
    BLIND_INDEX_INFO,
    COMMITMENT_PREFIX,
    SALT_BYTES,
    WRAP_INFO,
    DataKey,
    MasterKey,
    SealedData,
    SealingError,
    blind_index,
    commitment,
    new_salt,
    open_sealed,
    seal,
)

KEY = bytes(range(32))
"""A fixed, non-placeholder master key for known answers."""
KEY_TEXT = base64.b64encode(KEY).decode()
RECORD = "0b0e5c3e-8a5e-4b8e-9d3c-1f2a3b4c5d6e"
PERSONAL: dict[str, Any] = {
    "name": "金顺姬",
    "id_number": "22240419721130244X",
    "phone": "13800000000",
    "village": "春化镇",
}


@pytest.fixture
def master() -> MasterKey:
    return MasterKey(KEY)


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def hkdf(info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(KEY)


# --- seal / open --------------------------------------------------------------------


def test_round_trip(master: MasterKey) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    assert open_sealed(master, RECORD, data_key, sealed) == PERSONAL
    assert len(sealed.nonce) == 12
    assert len(data_key.wrapped) == 12 + 32 + 16


def test_round_trip_through_key_text(master: MasterKey) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    again = MasterKey.from_text(master.to_text())
    assert open_sealed(again, RECORD, data_key, sealed) == PERSONAL


# Text without lone surrogates: RFC 8785 (I-JSON) refuses them, tested below.
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@given(
    personal=st.dictionaries(texts, json_values, max_size=5),
    record_id=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
)
def test_round_trip_property(personal: dict[str, Any], record_id: str) -> None:
    master = MasterKey(KEY)
    data_key, sealed = seal(master, record_id, personal)
    assert open_sealed(master, record_id, data_key, sealed) == personal


def test_seal_known_answer(master: MasterKey) -> None:
    # The layout, recomputed here with the primitives: AES-256-GCM of the canonical
    # JSON under the data key, and of the data key under HKDF(master, WRAP_INFO), both
    # with the record id as associated data.
    data_key_bytes = bytes([7]) * 32
    nonce = bytes([1]) * 12
    wrap_nonce = bytes([2]) * 12
    data_key, sealed = seal(
        master,
        RECORD,
        {"b": 1, "a": "阿"},
        data_key_bytes=data_key_bytes,
        nonce=nonce,
        wrap_nonce=wrap_nonce,
    )
    plaintext = '{"a":"阿","b":1}'.encode()
    aad = RECORD.encode()
    assert sealed == SealedData(
        nonce=nonce, ciphertext=AESGCM(data_key_bytes).encrypt(nonce, plaintext, aad)
    )
    wrap_key = hkdf(b"civic-ledger/v1/wrap")
    assert data_key == DataKey(
        wrapped=wrap_nonce + AESGCM(wrap_key).encrypt(wrap_nonce, data_key_bytes, aad)
    )
    assert WRAP_INFO == b"civic-ledger/v1/wrap"


def test_two_seals_of_the_same_data_differ(master: MasterKey) -> None:
    key_a, sealed_a = seal(master, RECORD, PERSONAL)
    key_b, sealed_b = seal(master, RECORD, PERSONAL)
    assert sealed_a.nonce != sealed_b.nonce
    assert sealed_a.ciphertext != sealed_b.ciphertext
    assert key_a.wrapped != key_b.wrapped
    # Fresh data keys: the key of one does not open the other.
    with pytest.raises(SealingError):
        open_sealed(master, RECORD, key_a, sealed_b)


def assert_unreadable(
    master: MasterKey, record_id: str, data_key: DataKey, sealed: SealedData
) -> SealingError:
    with pytest.raises(SealingError) as caught:
        open_sealed(master, record_id, data_key, sealed)
    assert caught.value.code == "sealed_data_unreadable"
    assert not isinstance(caught.value, InvalidInputError)
    assert isinstance(caught.value, LedgerError)
    for secret in PERSONAL.values():
        assert secret not in str(caught.value.diagnostics())
    return caught.value


def test_another_record_id_fails(master: MasterKey) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    error = assert_unreadable(master, RECORD + "x", data_key, sealed)
    assert error.message == (
        "data key does not unwrap: wrong master key, wrong record id, or tampered wrapped key"
    )


def test_ciphertext_moved_to_another_record_fails(master: MasterKey) -> None:
    # Even with the other record's own (valid) data key, the associated data differs.
    _, sealed_a = seal(master, RECORD, PERSONAL, data_key_bytes=bytes([9]) * 32)
    key_b, _ = seal(master, "other", {"x": 1}, data_key_bytes=bytes([9]) * 32)
    error = assert_unreadable(master, "other", key_b, sealed_a)
    assert error.diagnostics()["stage"] == "decrypt"


def test_another_master_key_fails(master: MasterKey) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    assert_unreadable(MasterKey.generate(), RECORD, data_key, sealed)


@pytest.mark.parametrize("index", [0, 5, 11])
def test_flipped_nonce_fails(master: MasterKey, index: int) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    tampered = SealedData(nonce=flip(sealed.nonce, index), ciphertext=sealed.ciphertext)
    error = assert_unreadable(master, RECORD, data_key, tampered)
    assert error.message == (
        "sealed data does not decrypt: wrong record id or tampered nonce or ciphertext"
    )


@pytest.mark.parametrize("index", [0, 10, -1])
def test_flipped_ciphertext_fails(master: MasterKey, index: int) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    position = index % len(sealed.ciphertext)
    tampered = SealedData(nonce=sealed.nonce, ciphertext=flip(sealed.ciphertext, position))
    assert_unreadable(master, RECORD, data_key, tampered)


@pytest.mark.parametrize("index", [0, 11, 12, 43, 59])
def test_flipped_wrapped_key_fails(master: MasterKey, index: int) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    assert_unreadable(master, RECORD, DataKey(flip(data_key.wrapped, index)), sealed)


def test_truncated_pieces_fail(master: MasterKey) -> None:
    data_key, sealed = seal(master, RECORD, PERSONAL)
    error = assert_unreadable(master, RECORD, DataKey(data_key.wrapped[:-1]), sealed)
    assert error.message == "wrapped data key is 59 bytes, want 60"
    error = assert_unreadable(
        master, RECORD, data_key, SealedData(sealed.nonce[:8], sealed.ciphertext)
    )
    assert error.message == "sealed data nonce is 8 bytes, want 12"
    assert_unreadable(master, RECORD, data_key, SealedData(sealed.nonce, sealed.ciphertext[:-1]))


def test_seal_refuses_bad_input(master: MasterKey) -> None:
    with pytest.raises(InvalidInputError, match="record id is empty"):
        seal(master, "", PERSONAL)
    with pytest.raises(InvalidInputError, match="personal data is a list, want a JSON object"):
        seal(master, RECORD, ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="nonce is 8 bytes, want 12"):
        seal(master, RECORD, PERSONAL, nonce=bytes(8))


def test_non_json_personal_data_is_refused_without_quoting_it(master: MasterKey) -> None:
    # An ID number given as an integer is beyond 2**53: the error must not quote it.
    with pytest.raises(InvalidInputError) as caught:
        seal(master, RECORD, {"id_number": 222404197803120316})
    assert "IntegerDomainError" in caught.value.message
    assert "222404197803120316" not in caught.value.message
    assert "222404197803120316" not in str(caught.value.diagnostics())
    assert caught.value.__suppress_context__
    with pytest.raises(InvalidInputError):
        commitment({"id_number": 222404197803120316}, new_salt())


# --- commitment ---------------------------------------------------------------------


def test_commitment_known_answer() -> None:
    salt = bytes(range(16))
    personal = {"name": "金顺姬", "id_number": "22240419721130244X"}
    jcs = '{"id_number":"22240419721130244X","name":"金顺姬"}'.encode()
    want = hashlib.sha256(b"civic-ledger/sealed/v1\x00" + salt + jcs).hexdigest()
    assert commitment(personal, salt) == "sha256:" + want
    assert COMMITMENT_PREFIX == b"civic-ledger/sealed/v1\x00"


def test_commitment_changes_with_salt_and_data() -> None:
    salt = new_salt()
    base = commitment(PERSONAL, salt)
    assert commitment(PERSONAL, new_salt()) != base
    assert commitment({**PERSONAL, "phone": "13800000001"}, salt) != base
    assert commitment({k: v for k, v in PERSONAL.items() if k != "phone"}, salt) != base


def test_commitment_ignores_key_order() -> None:
    salt = new_salt()
    reordered = dict(reversed(list(PERSONAL.items())))
    assert list(reordered) != list(PERSONAL)
    assert commitment(reordered, salt) == commitment(PERSONAL, salt)


@pytest.mark.parametrize("size", [0, 8, 15, 17, 32])
def test_commitment_refuses_salts_of_other_sizes(size: int) -> None:
    with pytest.raises(InvalidInputError) as caught:
        commitment(PERSONAL, bytes(range(size)))
    assert caught.value.message == (
        f"commitment salt is {size} bytes, want exactly 16 random bytes (new_salt())"
    )


def test_new_salt() -> None:
    assert SALT_BYTES == 16
    salts = {new_salt() for _ in range(100)}
    assert len(salts) == 100
    assert all(len(salt) == 16 for salt in salts)


# --- blind index --------------------------------------------------------------------


def test_blind_index_known_answer(master: MasterKey) -> None:
    index_key = hkdf(b"civic-ledger/v1/blind-index")
    want = hmac.new(index_key, b"id_number\x0022240419721130244X", hashlib.sha256).hexdigest()
    assert blind_index(master, "id_number", "22240419721130244X") == want
    assert BLIND_INDEX_INFO == b"civic-ledger/v1/blind-index"
    assert index_key != hkdf(WRAP_INFO)


def test_blind_index_is_deterministic_per_master_key(master: MasterKey) -> None:
    value = "22240419721130244X"
    first = blind_index(master, "id_number", value)
    assert blind_index(MasterKey(KEY), "id_number", value) == first
    assert blind_index(MasterKey.generate(), "id_number", value) != first
    assert blind_index(master, "phone", value) != first
    assert blind_index(master, "id_number", "222404197803120316") != first
    assert value not in first
    assert len(first) == 64


def test_blind_index_kind_cannot_shift_into_value(master: MasterKey) -> None:
    with pytest.raises(InvalidInputError, match="kind is empty or contains NUL"):
        blind_index(master, "id\x00number", "x")
    with pytest.raises(InvalidInputError, match="kind is empty or contains NUL"):
        blind_index(master, "", "x")


# --- master key ---------------------------------------------------------------------


def test_master_key_text_forms() -> None:
    urlsafe = base64.urlsafe_b64encode(bytes(range(200, 232))).decode()
    assert "-" in urlsafe or "_" in urlsafe
    key = MasterKey.from_text(urlsafe)
    assert MasterKey.from_text(key.to_text()).to_text() == key.to_text()
    assert MasterKey.from_text(urlsafe.rstrip("=")).to_text() == key.to_text()
    assert MasterKey.from_text(f"  {KEY_TEXT}\n").to_text() == KEY_TEXT
    assert base64.b64decode(key.to_text()) == bytes(range(200, 232))


def test_generate_gives_distinct_usable_keys() -> None:
    first, second = MasterKey.generate(), MasterKey.generate()
    assert first.to_text() != second.to_text()
    assert len(base64.b64decode(first.to_text())) == 32


def assert_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MasterKey.from_text(text)
    assert caught.value.code == "invalid_configuration"
    assert caught.value.message == message
    for shown in (caught.value.message, str(caught.value), str(caught.value.diagnostics())):
        if text.strip():
            assert text.strip() not in shown
            assert text.strip().rstrip("=") not in shown


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_master_key_wrong_length(size: int) -> None:
    text = base64.b64encode(bytes(range(1, size + 1))).decode()
    assert_refused(text, f"master key is {size} bytes, want 32")


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        KEY_TEXT[:-2] + "!=",
        "金" * 44,
        KEY_TEXT[:20] + " " + KEY_TEXT[20:],
        "A",
    ],
)
def test_master_key_not_base64(text: str) -> None:
    assert_refused(text, "master key is not base64, want base64 of 32 random bytes")


@pytest.mark.parametrize(
    ("key", "distinct"),
    [(bytes(32), 1), (b"\xff" * 32, 1), (b"changeme" * 4, 7), (b"ab" * 16, 2)],
)
def test_master_key_refuses_placeholders(key: bytes, distinct: int) -> None:
    assert_refused(
        base64.b64encode(key).decode(),
        f"master key has only {distinct} distinct byte values (a placeholder such as all "
        "zeros?), want 32 random bytes (MasterKey.generate())",
    )
    with pytest.raises(ConfigError):
        MasterKey(key)


def test_master_key_is_never_shown(master: MasterKey) -> None:
    for shown in (repr(master), str(master), f"{master}", repr([master])):
        assert KEY_TEXT not in shown
        assert KEY.hex() not in shown
        assert shown.count("MasterKey(<redacted>)") == 1
