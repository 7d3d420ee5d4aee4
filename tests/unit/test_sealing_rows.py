"""Many rows sealed under one data key (a dataset's ingest batch): ``seal_rows``/``open_rows``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInputError
from ledger.sealing import (
    ROW_PREFIX,
    WRAP_INFO,
    MasterKey,
    SealedData,
    SealingError,
    open_rows,
    open_sealed,
    row_associated_data,
    seal,
    seal_rows,
)

KEY = bytes(range(32))
BATCH = "5f0c1d9e-2b7a-4c1e-8f3d-0a1b2c3d4e5f"
ROWS: list[dict[str, Any]] = [
    {"name": "金明哲", "id_number": "222404197803120316", "is_veteran": True},
    {"name": "李春梅", "id_number": "222404198506210627", "is_veteran": False},
    {"name": "朴永浩", "id_number": "222404199001051573", "is_veteran": None},
]
LABELS = ["TY-VETERAN/DEMO-FANGCHUAN", "TY-VETERAN/DEMO-TUANJIE", "TY-VETERAN/DEMO-MENGLING"]


@pytest.fixture
def master() -> MasterKey:
    return MasterKey(KEY)


def test_round_trip_by_position(master: MasterKey) -> None:
    key, boxes = seal_rows(master, BATCH, ROWS)
    assert len(boxes) == len(ROWS)
    assert len(key.wrapped) == 12 + 32 + 16
    assert len({b.nonce for b in boxes}) == len(ROWS)  # a fresh nonce per row
    assert open_rows(master, BATCH, key, boxes) == ROWS


def test_round_trip_by_label_and_subsets(master: MasterKey) -> None:
    key, boxes = seal_rows(master, BATCH, ROWS, labels=LABELS)
    assert open_rows(master, BATCH, key, boxes, labels=LABELS) == ROWS
    # With labels, any subset opens on its own, in any order (a filtered read).
    assert open_rows(master, BATCH, key, [boxes[2], boxes[0]], labels=[LABELS[2], LABELS[0]]) == [
        ROWS[2],
        ROWS[0],
    ]


@given(
    rows=st.lists(
        st.dictionaries(
            st.text(max_size=8),
            st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
            max_size=4,
        ),
        max_size=6,
    )
)
def test_round_trip_property(rows: list[dict[str, Any]]) -> None:
    master = MasterKey(KEY)
    key, boxes = seal_rows(master, BATCH, rows)
    assert open_rows(master, BATCH, key, boxes) == rows


def test_known_answer(master: MasterKey) -> None:
    # Recomputed from the primitives: one data key, AES-256-GCM per row with associated
    # data ROW_PREFIX || batch || 0x00 || label; the data key wrapped as a record's is.
    data_key = bytes([9]) * 32
    wrap_nonce = bytes([3]) * 12
    key, boxes = seal_rows(
        master,
        BATCH,
        [{"b": 1, "a": "阿"}],
        labels=["D/222404"],
        data_key_bytes=data_key,
        wrap_nonce=wrap_nonce,
    )
    aad = b"civic-ledger/row/v1\x00" + BATCH.encode() + b"\x00D/222404"
    assert ROW_PREFIX == b"civic-ledger/row/v1\x00"
    assert row_associated_data(BATCH, "D/222404") == aad
    assert AESGCM(data_key).decrypt(boxes[0].nonce, boxes[0].ciphertext, aad) == (
        '{"a":"阿","b":1}'.encode()
    )
    wrap_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=WRAP_INFO).derive(KEY)
    assert key.wrapped == wrap_nonce + AESGCM(wrap_key).encrypt(
        wrap_nonce, data_key, BATCH.encode()
    )


def test_rows_do_not_open_elsewhere(master: MasterKey) -> None:
    key, boxes = seal_rows(master, BATCH, ROWS, labels=LABELS)
    cases: list[tuple[str, list[SealedData], list[str], Any]] = [
        ("moved to another division", boxes[:1], ["TY-VETERAN/DEMO-MAXIN"], key),
        ("swapped rows", [boxes[1], boxes[0]], LABELS[:2], key),
        ("another batch", boxes, LABELS, None),
        (
            "tampered ciphertext",
            [replace(boxes[0], ciphertext=flip(boxes[0].ciphertext))],
            LABELS[:1],
            key,
        ),
        ("tampered nonce", [replace(boxes[0], nonce=flip(boxes[0].nonce))], LABELS[:1], key),
    ]
    for what, some, labels, data_key in cases:
        batch = "another" if data_key is None else BATCH
        with pytest.raises(SealingError) as caught:
            open_rows(master, batch, key, some, labels=labels)
        assert caught.value.code == "sealed_data_unreadable", what
    with pytest.raises(SealingError):
        open_rows(MasterKey(bytes(range(1, 33))), BATCH, key, boxes, labels=LABELS)
    # Without labels the label is the position: a reordered batch does not open.
    key, boxes = seal_rows(master, BATCH, ROWS)
    with pytest.raises(SealingError) as caught:
        open_rows(master, BATCH, key, list(reversed(boxes)))
    assert "row 0 does not decrypt" in caught.value.message


def test_a_row_is_not_a_record_and_a_record_is_not_a_row(master: MasterKey) -> None:
    key, boxes = seal_rows(master, BATCH, ROWS[:1])
    with pytest.raises(SealingError):
        open_sealed(master, BATCH, key, boxes[0])
    record_key, sealed = seal(master, BATCH, ROWS[0])
    with pytest.raises(SealingError):
        open_rows(master, BATCH, record_key, [sealed])


def test_bad_input(master: MasterKey) -> None:
    with pytest.raises(InvalidInputError, match="2 labels for 3 rows"):
        seal_rows(master, BATCH, ROWS, labels=LABELS[:2])
    with pytest.raises(InvalidInputError, match="NUL"):
        seal_rows(master, "a\x00b", ROWS)
    with pytest.raises(InvalidInputError, match="record id is empty"):
        seal_rows(master, "", ROWS)
    secret = 222404197803120316  # beyond 2**53: not I-JSON
    with pytest.raises(InvalidInputError) as caught:
        seal_rows(master, BATCH, [ROWS[0], {"id_number": secret}])
    assert caught.value.message.startswith("row 1: ")
    assert str(secret) not in caught.value.message
    key, boxes = seal_rows(master, BATCH, ROWS)
    with pytest.raises(InvalidInputError, match="labels for"):
        open_rows(master, BATCH, key, boxes, labels=LABELS[:1])


def test_empty_batch(master: MasterKey) -> None:
    key, boxes = seal_rows(master, BATCH, [])
    assert boxes == [] and open_rows(master, BATCH, key, []) == []


def flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]
