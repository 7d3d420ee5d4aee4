"""C2SP signed-note (Go golang.org/x/mod/sumdb/note) conformance and rules.

Vectors: tests/vectors/signed-note-checkpoint/signed-note-and-checkpoint.json.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteError,
    Signer,
    Verifier,
    generate_signer,
    key_id,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
)

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[1]
        / "vectors"
        / "signed-note-checkpoint"
        / "signed-note-and-checkpoint.json"
    ).read_text(encoding="utf-8")
)
NOTES: list[dict[str, Any]] = VECTORS["signed_notes"]
PETER = NOTES[0]
TEXT: str = PETER["text"]
SUMDB: dict[str, Any] = VECTORS["sumdb_tree_note"]
SUMDB_ORIGIN = "go.sum database tree"
SEED = bytes(range(32))


def test_vector_counts() -> None:
    assert [n["expect"] for n in NOTES].count("valid") == 3
    assert [n["expect"] for n in NOTES].count("reject") == 4
    assert len(VECTORS["malformed_verifier_keys"]) == 2


@pytest.mark.parametrize("case", NOTES, ids=[n["desc"] for n in NOTES])
def test_signed_note_vectors(case: dict[str, Any]) -> None:
    verifiers = [parse_verifier_key(k) for k in case["verifier_keys"]]
    assert case["note"].startswith(case["text"] + "\n")
    if case["expect"] == "valid":
        opened = open_note(case["note"], verifiers)
        assert opened.text == case["text"]
        assert list(opened.verified) == case["verified_signers"]
        assert open_note(case["note"].encode(), verifiers) == opened
    else:
        with pytest.raises(NoteError) as info:
            open_note(case["note"], verifiers)
        assert info.value.code == "invalid_note"


def test_unknown_signatures_are_ignored_and_kept() -> None:
    opened = open_note(NOTES[1]["note"], [parse_verifier_key(NOTES[1]["verifier_keys"][0])])
    assert opened.verified == ("PeterNeumann",)
    assert len(opened.unverified_lines) == 1
    assert opened.unverified_lines[0].startswith("— EnochRoot ")


def test_corrupted_known_signature_names_the_key() -> None:
    case = NOTES[4]
    with pytest.raises(NoteError, match=r"^signature by known key EnochRoot\+af0cfe78") as info:
        open_note(case["note"], [parse_verifier_key(k) for k in case["verifier_keys"]])
    assert info.value.diagnostics()["key_id"] == "af0cfe78"


def test_no_known_signature_message() -> None:
    case = NOTES[3]
    with pytest.raises(NoteError, match=r"^note has no verifying signature from a known key$"):
        open_note(case["note"], [parse_verifier_key(k) for k in case["verifier_keys"]])


def test_deterministic_resigning_reproduces_the_signature() -> None:
    signer = parse_signer_key(PETER["signer_key"])
    assert signer.name == "PeterNeumann"
    assert signer.to_signer_key() == PETER["signer_key"]
    assert signer.verifier() == parse_verifier_key(PETER["verifier_keys"][0])
    assert signer.verifier().to_verifier_key() == PETER["verifier_keys"][0]
    assert signer.key_id.hex() == "c74f20a3"
    assert sign_note(TEXT, signer) == PETER["note"]
    assert signer.sign(TEXT) + "\n" == PETER["note"][len(TEXT) + 1 :]


def test_key_id_is_sha256_of_name_newline_alg_key() -> None:
    verifier = parse_verifier_key(PETER["verifier_keys"][0])
    raw = base64.b64decode(PETER["verifier_keys"][0].split("+", 2)[2])
    want = hashlib.sha256(b"PeterNeumann\n" + raw).digest()[:4]
    assert raw[0] == 0x01
    assert key_id("PeterNeumann", raw[1:]) == want == verifier.key_id


@pytest.mark.parametrize("case", VECTORS["malformed_verifier_keys"], ids=lambda c: c["why"])
def test_malformed_verifier_keys_are_refused(case: dict[str, str]) -> None:
    with pytest.raises(NoteError):
        parse_verifier_key(case["key"])


GOOD_VKEY: str = PETER["verifier_keys"][0]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("PeterNeumann", "verifier key has 1 '+'-separated fields, want 3"),
        (GOOD_VKEY.replace("c74f20a3", "c74f20a4"), "verifier key ID is c74f20a4, want c74f20a3"),
        (GOOD_VKEY.replace("c74f20a3", "c74f20"), "verifier key ID 'c74f20' is not 8 hex digits"),
        (GOOD_VKEY.replace("PeterNeumann", "Peter Neumann"), "key name 'Peter Neumann'"),
        (GOOD_VKEY.replace("PeterNeumann", ""), "key name '' must be a non-empty string"),
        (GOOD_VKEY[:-1], "verifier key '"),
    ],
    ids=["no-fields", "wrong-id", "short-id", "space-in-name", "empty-name", "bad-base64"],
)
def test_verifier_key_errors(key: str, message: str) -> None:
    with pytest.raises(NoteError) as info:
        parse_verifier_key(key)
    assert info.value.message.startswith(message), info.value.message


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (PETER["signer_key"].replace("PRIVATE+KEY", "PUBLIC+KEY"), "signer key must start"),
        (PETER["signer_key"].replace("c74f20a3", "00000000"), "signer key ID is 00000000"),
        (PETER["signer_key"].replace("+AYEK", "+AoEK"), "signer algorithm byte is 0x02"),
        ("PRIVATE+KEY+PeterNeumann", "signer key has 3 '+'-separated fields, want 5"),
    ],
    ids=["prefix", "wrong-id", "algorithm", "short"],
)
def test_signer_key_errors(key: str, message: str) -> None:
    with pytest.raises(NoteError) as info:
        parse_signer_key(key)
    assert info.value.message.startswith(message), info.value.message


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0", "ideographic\u3000"])
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(NoteError, match="key name"):
        generate_signer(name, SEED)


VALID = PETER["note"]
SIG_LINE = VALID[len(TEXT) + 1 :]


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (TEXT + SIG_LINE, "note has no blank line before its signatures"),
        (TEXT + "\n", "note signature block is empty"),
        (VALID[:-1], "note signature block is empty or does not end in a newline"),
        (TEXT + "\n" + SIG_LINE.replace("—", "-"), "malformed signature line"),
        (TEXT + "\n" + SIG_LINE.replace("— ", "—"), "malformed signature line"),
        (TEXT + "\n" + SIG_LINE.replace("PeterNeumann ", "PeterNeumann"), "malformed signature"),
        (TEXT + "\n" + SIG_LINE.replace("=\n", "\n"), "signature '"),
        (TEXT + "\n— PeterNeumann AAAA\n", "signature is 3 bytes"),
        (TEXT + "\n" + SIG_LINE + "\n", "note signature block"),
        (TEXT.replace(",", "\r") + "\n" + SIG_LINE, "note contains control character '\\r'"),
        (VALID.replace("If", "\tIf"), "note contains control character '\\t'"),
        (VALID.encode()[:5] + b"\xff" + VALID.encode()[5:], "note is not valid UTF-8"),
        (TEXT + "\n" + SIG_LINE * 101, "note has 101 signatures, want at most 100"),
    ],
    ids=[
        "no-blank-line",
        "no-signatures",
        "no-final-newline",
        "ascii-dash",
        "no-space-after-dash",
        "no-space-before-base64",
        "bad-base64",
        "short-signature",
        "blank-line-after-signatures",
        "carriage-return",
        "tab",
        "invalid-utf8",
        "too-many",
    ],
)
def test_malformed_notes_are_rejected(note: str | bytes, message: str) -> None:
    with pytest.raises(NoteError) as info:
        open_note(note, [parse_verifier_key(GOOD_VKEY)])
    assert info.value.message.startswith(message), info.value.message


def test_repeated_signatures_count_once() -> None:
    verifier = parse_verifier_key(GOOD_VKEY)
    assert open_note(TEXT + "\n" + SIG_LINE * 3, [verifier]).verified == ("PeterNeumann",)


def test_text_may_contain_blank_lines() -> None:
    signer = generate_signer("example.com/log", SEED)
    text = "first\n\nthird\n\n"
    assert open_note(sign_note(text, signer), [signer.verifier()]).text == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "note text must be a non-empty string"),
        ("no newline", "note text must end in a newline"),
        ("bell\a\n", "note contains control character"),
        ("\ud800\n", "note is not valid UTF-8"),
    ],
)
def test_sign_refuses_bad_text(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=f"^{message}"):
        sign_note(text, generate_signer("n", SEED))


def test_sign_needs_a_signer() -> None:
    with pytest.raises(NoteError, match="at least one signer"):
        sign_note(TEXT)


def test_two_signers_and_ambiguous_verifiers() -> None:
    a, b = generate_signer("a.example", SEED), generate_signer("b.example")
    note = sign_note(TEXT, a, b)
    assert open_note(note, [a.verifier(), b.verifier()]).verified == ("a.example", "b.example")
    assert open_note(note, [b.verifier()]).unverified_lines == (a.sign(TEXT),)


def test_colliding_verifiers_are_refused() -> None:
    # A real (name, key ID) collision takes ~2**32 key generations; forge one instead.
    a = generate_signer("a.example", SEED)
    clash = Verifier("a.example", generate_signer("x").public_key)
    object.__setattr__(clash, "key_id", a.key_id)
    with pytest.raises(NoteError, match=r"two verifiers share name 'a\.example'"):
        open_note(sign_note(TEXT, a), [a.verifier(), clash])


def test_signer_repr_hides_the_private_key() -> None:
    signer = generate_signer("n", SEED)
    assert "private_key" not in repr(signer)
    assert isinstance(signer, Signer)


@given(
    st.text(min_size=1).filter(lambda s: "\n" not in s).map(lambda s: s + "\n"),
    st.integers(0, 10_000),
    st.integers(1, 255),
)
def test_tampered_text_never_verifies(line: str, position: int, flip: int) -> None:
    signer = generate_signer("example.com/log", SEED)
    text = "text\n" + "".join(c for c in line if c >= " " or c == "\n")
    note = sign_note(text, signer).encode()
    index = position % len(text.encode())
    tampered = bytearray(note)
    tampered[index] ^= flip
    with pytest.raises(NoteError):
        open_note(bytes(tampered), [signer.verifier()])


def test_flip_one_byte_of_the_vector_text() -> None:
    verifier = parse_verifier_key(GOOD_VKEY)
    for index in range(len(TEXT)):
        tampered = bytearray(VALID.encode())
        tampered[index] ^= 0x01
        with pytest.raises(NoteError):
            open_note(bytes(tampered), [verifier])


# The go.sum tree note has the same shape as a checkpoint: origin, size, base64 hash.


def test_sumdb_tree_note_golden() -> None:
    tree = Checkpoint.from_text(SUMDB["golden"], origin=SUMDB_ORIGIN)
    assert tree.size == SUMDB["size"]
    assert tree.root_hash == base64.b64decode(SUMDB["hash_b64"])
    assert tree.root_hash == hashlib.sha256(b"\x00hello world").digest()
    assert tree.to_text() == SUMDB["golden"]


@pytest.mark.parametrize("text", SUMDB["must_reject"])
def test_sumdb_tree_note_rejects(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.from_text(text, origin=SUMDB_ORIGIN)
