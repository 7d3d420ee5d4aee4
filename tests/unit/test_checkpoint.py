"""C2SP tlog-checkpoint bodies, and checkpoints signed as notes.

Vectors: tests/vectors/signed-note-checkpoint/signed-note-and-checkpoint.json
(``checkpoint_body_cases``, from transparency-dev/formats log/checkpoint_test.go).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    NoteError,
    generate_signer,
    open_checkpoint,
    sign_checkpoint,
    sign_note,
)
from ledger.errors import LedgerError

CASES: list[dict[str, Any]] = json.loads(
    (
        Path(__file__).resolve().parents[1]
        / "vectors"
        / "signed-note-checkpoint"
        / "signed-note-and-checkpoint.json"
    ).read_text(encoding="utf-8")
)["checkpoint_body_cases"]
ORIGIN = "civic-ledger.example/log"
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
SIGNER = generate_signer(ORIGIN, bytes(32))


def test_case_counts() -> None:
    assert len(CASES) == 12
    assert sum(not c["wantErr"] for c in CASES) == 5


@pytest.mark.parametrize("case", CASES, ids=[c["desc"] for c in CASES])
def test_checkpoint_body_vectors(case: dict[str, Any]) -> None:
    # The formats vectors use roots of any length ("bananas"); hash_size=None parses
    # them as the generic body format. Our own default then insists on 32 bytes.
    if case["wantErr"]:
        with pytest.raises(CheckpointError):
            Checkpoint.from_text(case["m"], hash_size=None)
        return
    checkpoint = Checkpoint.from_text(case["m"], hash_size=None)
    assert checkpoint.origin == case["origin"]
    assert checkpoint.size == case["size"]
    assert checkpoint.root_hash == base64.b64decode(case["hash_b64"])
    assert "".join(line + "\n" for line in checkpoint.extensions) == case["rest"]
    assert checkpoint.to_text() == case["m"]
    root_size = len(checkpoint.root_hash)
    with pytest.raises(CheckpointError, match=f"^root hash is {root_size} bytes, want 32$"):
        Checkpoint.from_text(case["m"])


GOOD = f"{ORIGIN}\n42\n{ROOT_B64}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD[:-1], "checkpoint text does not end in a newline"),
        (f"{ORIGIN}\n42\n", "checkpoint has 2 lines, want at least 3"),
        ("", "checkpoint text does not end in a newline"),
        (f"\n42\n{ROOT_B64}\n", "checkpoint origin line is empty"),
        (GOOD.replace("\n42\n", "\n042\n"), "tree size '042' is not a decimal number"),
        (GOOD.replace("\n42\n", "\n+42\n"), "tree size '+42' is not a decimal number"),
        (GOOD.replace("\n42\n", "\n 42\n"), "tree size ' 42' is not a decimal number"),
        (GOOD.replace("\n42\n", "\n4_2\n"), "tree size '4_2' is not a decimal number"),
        (GOOD.replace("\n42\n", "\n٤٢\n"), "tree size '٤٢' is not a decimal number"),
        (GOOD.replace("\n42\n", "\n\n"), "tree size '' is not a decimal number"),
        (GOOD.replace("\n42\n", f"\n{2**64}\n"), f"tree size {2**64} is larger than 2**64-1"),
        (GOOD.replace("\n42\n", "\n" + "9" * 5000 + "\n"), "tree size 999999999999999999"),
        (f"{ORIGIN}\n42\n\n", "checkpoint root hash line is empty"),
        (GOOD.replace(ROOT_B64, ROOT_B64[:-1]), "root hash '"),
        (GOOD.replace(ROOT_B64, ROOT_B64.rstrip("=")), "root hash '"),
        (GOOD.replace(ROOT_B64, base64.urlsafe_b64encode(b"\xff" * 32).decode()), "root hash"),
        (GOOD.replace(ROOT_B64, base64.b64encode(ROOT[:31]).decode()), "root hash is 31 bytes"),
        (GOOD.replace(ORIGIN, "bad\torigin"), "checkpoint line 'bad\\torigin' has a newline"),
        (GOOD.replace("\n42\n", "\r\n42\n"), "checkpoint line 'civic-ledger.example/log\\r'"),
    ],
)
def test_body_errors(text: str, message: str) -> None:
    with pytest.raises(CheckpointError) as info:
        Checkpoint.from_text(text)
    assert info.value.message.startswith(message), info.value.message
    assert info.value.code == "invalid_checkpoint"


@pytest.mark.parametrize("size", [0, 1, MAX_TREE_SIZE])
def test_size_bounds(size: int) -> None:
    assert Checkpoint.from_text(GOOD.replace("\n42\n", f"\n{size}\n")).size == size


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "two\nlines"},
        {"size": -1},
        {"size": MAX_TREE_SIZE + 1},
        {"size": True},
        {"root_hash": b""},
        {"root_hash": "not bytes"},
        {"extensions": ("a\nb",)},
    ],
)
def test_constructor_validates(kwargs: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(**{"origin": ORIGIN, "size": 1, "root_hash": ROOT, **kwargs})


def test_wrong_origin_names_got_and_want() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), SIGNER)
    want = "other.example/log"
    with pytest.raises(CheckpointError) as info:
        open_checkpoint(note, SIGNER.verifier(), origin=want)
    assert info.value.message == f"checkpoint origin {ORIGIN!r}, want {want!r}"
    assert info.value.diagnostics()["got"] == ORIGIN
    assert info.value.diagnostics()["want"] == want


def test_sign_and_open_known_answer() -> None:
    checkpoint = Checkpoint(ORIGIN, 42, ROOT, ("ext",))
    note = sign_checkpoint(checkpoint, SIGNER)
    assert note.startswith(f"{ORIGIN}\n42\n{ROOT_B64}\next\n\n— {ORIGIN} ")
    assert open_checkpoint(note, SIGNER.verifier(), origin=ORIGIN) == checkpoint
    assert sign_checkpoint(checkpoint, SIGNER) == note  # Ed25519 is deterministic


def test_open_checkpoint_with_the_wrong_key() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), SIGNER)
    with pytest.raises(NoteError, match="no verifying signature"):
        open_checkpoint(note, generate_signer(ORIGIN).verifier())


def test_open_checkpoint_refuses_a_signed_non_checkpoint() -> None:
    note = sign_note("just a note\n", SIGNER)
    with pytest.raises(CheckpointError, match="checkpoint has 1 lines"):
        open_checkpoint(note, SIGNER.verifier())


def test_sign_checkpoint_is_conservative() -> None:
    with pytest.raises(CheckpointError, match=r"^root hash is 7 bytes, want 32$"):
        sign_checkpoint(Checkpoint(ORIGIN, 1, b"bananas"), SIGNER)
    with pytest.raises(CheckpointError, match="extension lines must be non-empty"):
        sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT, ("",)), SIGNER)


def test_errors_share_the_base() -> None:
    assert issubclass(CheckpointError, LedgerError)
    assert issubclass(NoteError, LedgerError)


LINE = st.text(alphabet=st.characters(exclude_categories=["Cs"], min_codepoint=0x20), min_size=1)
CHECKPOINTS = st.builds(
    Checkpoint,
    origin=LINE,
    size=st.integers(0, MAX_TREE_SIZE),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(LINE, max_size=3).map(tuple),
)


@given(CHECKPOINTS)
def test_text_round_trip(checkpoint: Checkpoint) -> None:
    text = checkpoint.to_text()
    assert Checkpoint.from_text(text) == checkpoint
    assert Checkpoint.from_text(text, origin=checkpoint.origin).to_text() == text


@given(CHECKPOINTS)
def test_signed_round_trip(checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, SIGNER)
    assert open_checkpoint(note, SIGNER.verifier()) == checkpoint
    assert open_checkpoint(note.encode(), SIGNER.verifier(), origin=checkpoint.origin) == checkpoint


@given(CHECKPOINTS, st.integers(0, 2**32), st.integers(1, 255))
def test_tampered_checkpoint_never_opens(checkpoint: Checkpoint, position: int, flip: int) -> None:
    note = bytearray(sign_checkpoint(checkpoint, SIGNER).encode())
    note[position % len(checkpoint.to_text().encode())] ^= flip
    with pytest.raises(NoteError):
        open_checkpoint(bytes(note), SIGNER.verifier())
