"""Checkpoints (C2SP tlog-checkpoint) signed as C2SP signed-notes with Ed25519.

Checkpoint body, c2sp.org/tlog-checkpoint "Note text"::

    <origin>\\n<tree size, decimal, no leading zeros>\\n<base64 root hash>\\n[<extension>\\n]*

Signed note, c2sp.org/signed-note "Format" (wire-compatible with Go's
golang.org/x/mod/sumdb/note)::

    <text ending in \\n>\\n— <key name> base64(key ID || Ed25519 signature)\\n...

    key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]

Keys travel as Go's strings: verifier key ``<name>+<key ID hex>+base64(0x01 || public)``,
signer key ``PRIVATE+KEY+<name>+<key ID hex>+base64(0x01 || seed)``.

:func:`sign_checkpoint` and :func:`open_checkpoint` are the recipes; the rest is
the low-level layer they are built from. All base64 is RFC 4648 §4 with padding and
is decoded strictly (canonical encodings only).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat
from cryptography.hazmat.primitives.serialization import NoEncryption as _NoEncryption

from ledger.errors import LedgerError
from ledger.merkle.rfc9162 import HASH_SIZE

__all__ = [
    "MAX_SIGNATURES",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "NoteError",
    "OpenedNote",
    "Signer",
    "Verifier",
    "generate_signer",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
]

ALG_ED25519: Final = 0x01
"""signed-note signature type byte for Ed25519."""
SIGNATURE_PREFIX: Final = "\u2014 "
"""A signature line starts with an em dash (U+2014) and a space."""
MAX_SIGNATURES: Final = 100
"""Notes with more signature lines are refused (the spec requires accepting 16)."""
MAX_TREE_SIZE: Final = 2**64 - 1
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(LedgerError):
    """A signed note or a note key is malformed, or its signatures do not verify."""

    code = "invalid_note"


class CheckpointError(LedgerError):
    """A checkpoint body is malformed, or is not the one the caller expected."""

    code = "invalid_checkpoint"


def _b64decode(text: str, what: str, error: type[LedgerError]) -> bytes:
    """Strict RFC 4648 §4 base64: standard alphabet, padding, canonical trailing bits."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} {text!r} is not valid base64: {exc}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} {text!r} is not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_name(name: object) -> str:
    """signed-note: key names are non-empty, without Unicode spaces or '+'."""
    if not isinstance(name, str) or not name:
        raise NoteError(f"key name {name!r} must be a non-empty string")
    if "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise NoteError(f"key name {name!r} must not contain spaces, '+' or control characters")
    return name


def _check_text(text: object) -> str:
    """signed-note: the text is valid UTF-8, ends in a newline, no other control chars."""
    if not isinstance(text, str) or not text:
        raise NoteError("note text must be a non-empty string")
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    _check_note_chars(text)
    return text


def _check_note_chars(note: str) -> None:
    try:
        note.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"note is not valid UTF-8: {exc}") from exc
    bad = _CONTROL.search(note)
    if bad:
        raise NoteError(f"note contains control character {bad.group()!r} at {bad.start()}")


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public_key)[:4], signed-note "Ed25519 signatures"."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier: a key name and a 32-byte public key."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise NoteError(f"Ed25519 public key {self.public_key!r} is not 32 bytes")
        object.__setattr__(self, "key_id", key_id(self.name, self.public_key))

    def verify(self, text: str, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of the UTF-8 ``text``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text.encode())
        except InvalidSignature:
            return False
        return True

    def to_verifier_key(self) -> str:
        """``<name>+<key ID hex>+base64(0x01 || public key)``."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([ALG_ED25519]) + self.public_key)}"


@dataclass(frozen=True, eq=False)
class Signer:
    """An Ed25519 note signer. Ed25519 is deterministic: same key and text, same bytes."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def sign(self, text: str) -> str:
        """The signature line for ``text``, ``— <name> base64(key ID || sig)``, no newline."""
        signature = self.private_key.sign(_check_text(text).encode())
        return f"{SIGNATURE_PREFIX}{self.name} {_b64(self.key_id + signature)}"

    def to_signer_key(self) -> str:
        """``PRIVATE+KEY+<name>+<key ID hex>+base64(0x01 || seed)``: a secret, keep it so."""
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, _NoEncryption())
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{_b64(bytes([ALG_ED25519]) + seed)}"


def generate_signer(name: str, seed: bytes | None = None) -> Signer:
    """A new Ed25519 signer; ``seed`` (32 bytes) makes it reproducible, else it is random."""
    if seed is None:
        return Signer(name, Ed25519PrivateKey.generate())
    if len(seed) != 32:
        raise NoteError(f"Ed25519 seed is {len(seed)} bytes, want 32")
    return Signer(name, Ed25519PrivateKey.from_private_bytes(seed))


def _split_key(key: str, parts: int, what: str) -> list[str]:
    if not isinstance(key, str):
        raise NoteError(f"{what}: got {type(key).__name__}, want str")
    fields = key.split("+", parts - 1)  # the base64 tail may itself contain '+'
    if len(fields) != parts:
        raise NoteError(f"{what} has {len(fields)} '+'-separated fields, want {parts}")
    return fields


def _key_material(name: str, hex_id: str, b64: str, what: str) -> bytes:
    _check_name(name)
    if not _KEY_ID_HEX.fullmatch(hex_id):
        raise NoteError(f"{what} key ID {hex_id!r} is not 8 hex digits")
    raw = _b64decode(b64, f"{what} key", NoteError)
    if not raw or raw[0] != ALG_ED25519:
        got = f"0x{raw[0]:02x}" if raw else "nothing"
        raise NoteError(f"{what} algorithm byte is {got}, want 0x01 (Ed25519)")
    if len(raw) != 33:
        raise NoteError(f"{what} Ed25519 key is {len(raw) - 1} bytes, want 32")
    return raw[1:]


def parse_verifier_key(key: str) -> Verifier:
    """Parse ``<name>+<key ID hex>+base64(0x01 || public key)``; the key ID must match."""
    name, hex_id, b64 = _split_key(key, 3, "verifier key")
    verifier = Verifier(name, _key_material(name, hex_id, b64, "verifier"))
    if verifier.key_id != bytes.fromhex(hex_id):
        raise NoteError(f"verifier key ID is {hex_id.lower()}, want {verifier.key_id.hex()}")
    return verifier


def parse_signer_key(key: str) -> Signer:
    """Parse ``PRIVATE+KEY+<name>+<key ID hex>+base64(0x01 || seed)``; the ID must match."""
    private, word, name, hex_id, b64 = _split_key(key, 5, "signer key")
    if (private, word) != ("PRIVATE", "KEY"):
        raise NoteError("signer key must start with 'PRIVATE+KEY+'")
    signer = generate_signer(name, _key_material(name, hex_id, b64, "signer"))
    if signer.key_id != bytes.fromhex(hex_id):
        raise NoteError(f"signer key ID is {hex_id.lower()}, want {signer.key_id.hex()}")
    return signer


def sign_note(text: str, *signers: Signer) -> str:
    """``text`` + blank line + one signature line per signer (signed-note "Format")."""
    if not signers:
        raise NoteError("sign_note needs at least one signer")
    _check_text(text)
    return text + "\n" + "".join(signer.sign(text) + "\n" for signer in signers)


@dataclass(frozen=True)
class OpenedNote:
    """A note whose text was verified by at least one known key.

    ``verified`` names the known keys whose signatures verified, in note order;
    ``unverified_lines`` keeps the signature lines of unknown keys (without newline),
    e.g. witness cosignatures to pass on.
    """

    text: str
    verified: tuple[str, ...]
    unverified_lines: tuple[str, ...]


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> OpenedNote:
    """Check a signed note against known keys (signed-note "Signatures").

    (1) The note is UTF-8 without control characters other than newline. (2) The
    text is everything up to the last blank line; signature lines follow, each
    ``— <name> base64(key ID || sig)\\n``. (3) Lines whose (name, key ID) is unknown
    are ignored. (4) A known key's signature that fails to verify rejects the note.
    (5) At least one known key must have verified, else the note is rejected.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note is not valid UTF-8: {exc}") from exc
    _check_note_chars(note)
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        other = known.setdefault((verifier.name, verifier.key_id), verifier)
        if other != verifier:
            raise NoteError(f"two verifiers share name {verifier.name!r} and key ID")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise NoteError("note signature block is empty or does not end in a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, want at most {MAX_SIGNATURES}")
    verified: list[str] = []
    unverified: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line {line!r}: want '— <name> <base64>'")
        name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        _check_name(name)
        if not b64:
            raise NoteError(f"malformed signature line {line!r}: no signature after the name")
        raw = _b64decode(b64, "signature", NoteError)
        if len(raw) < 5:
            raise NoteError(f"signature is {len(raw)} bytes, want a 4-byte key ID and more")
        ident, signature = raw[:4], raw[4:]
        known_key = known.get((name, ident))
        if known_key is None:
            if line not in unverified:
                unverified.append(line)
            continue
        if (name, ident) in seen:
            continue
        seen.add((name, ident))
        if not known_key.verify(text, signature):
            raise NoteError(
                f"signature by known key {name}+{ident.hex()} does not verify",
                key_name=name,
                key_id=ident,
                signature_line=line,
            )
        verified.append(name)
    if not verified:
        raise NoteError(
            "note has no verifying signature from a known key",
            known_keys=[f"{name}+{ident.hex()}" for name, ident in known],
        )
    return OpenedNote(text, tuple(verified), tuple(unverified))


@dataclass(frozen=True)
class Checkpoint:
    """A tree head as a C2SP tlog-checkpoint body (the note text, before signing).

    ``extensions`` are the opaque lines after the root hash. Parsing accepts empty
    extension lines (as transparency-dev/formats does, and the vectors require) but
    :func:`sign_checkpoint` refuses them, since tlog-checkpoint says they MUST be
    non-empty. ``root_hash`` may have any non-zero length here; parsing and signing
    check it against the hash size (32 for the SHA-256 of RFC 9162).
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError(f"checkpoint origin {self.origin!r} must be a non-empty string")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size {self.size!r} is not in 0..2**64-1")
        if not isinstance(self.root_hash, bytes) or not self.root_hash:
            raise CheckpointError(f"root hash {self.root_hash!r} must be non-empty bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in (self.origin, *self.extensions):
            if not isinstance(line, str) or "\n" in line or _CONTROL.search(line):
                raise CheckpointError(f"checkpoint line {line!r} has a newline or control char")
            try:
                line.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise CheckpointError(f"checkpoint line {line!r} is not UTF-8") from exc

    def to_text(self) -> str:
        """The checkpoint body: origin, size, base64 root, extension lines, each + "\\n"."""
        lines = [self.origin, str(self.size), _b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(
        cls, text: str, *, origin: str | None = None, hash_size: int | None = HASH_SIZE
    ) -> Checkpoint:
        """Parse a checkpoint body (tlog-checkpoint "Note text").

        Requires a final newline and at least three lines: a non-empty origin, a tree
        size in ASCII decimal without sign or leading zeros (at most 2**64 - 1), and a
        canonical base64 root hash of ``hash_size`` bytes (``None``: any length).
        With ``origin``, the origin line must equal it.
        """
        if not isinstance(text, str):
            raise CheckpointError(f"checkpoint: got {type(text).__name__}, want str")
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint text does not end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(f"checkpoint has {len(lines)} lines, want at least 3")
        origin_line, size_line, hash_line, *extensions = lines
        if not origin_line:
            raise CheckpointError("checkpoint origin line is empty")
        if not _TREE_SIZE.fullmatch(size_line):
            raise CheckpointError(
                f"tree size {size_line!r} is not a decimal number without leading zeros"
            )
        size = int(size_line) if len(size_line) <= 20 else MAX_TREE_SIZE + 1  # 2**64 has 20
        if size > MAX_TREE_SIZE:
            raise CheckpointError(f"tree size {size_line[:30]} is larger than 2**64-1")
        if not hash_line:
            raise CheckpointError("checkpoint root hash line is empty")
        root = _b64decode(hash_line, "root hash", CheckpointError)
        if hash_size is not None and len(root) != hash_size:
            raise CheckpointError(f"root hash is {len(root)} bytes, want {hash_size}")
        checkpoint = cls(origin_line, size, root, tuple(extensions))
        if origin is not None and checkpoint.origin != origin:
            raise CheckpointError(
                f"checkpoint origin {checkpoint.origin!r}, want {origin!r}",
                got=checkpoint.origin,
                want=origin,
            )
        return checkpoint


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note: its body text plus ``signer``'s signature line."""
    if len(checkpoint.root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash is {len(checkpoint.root_hash)} bytes, want {HASH_SIZE}")
    if "" in checkpoint.extensions:
        raise CheckpointError("checkpoint extension lines must be non-empty")
    return sign_note(checkpoint.to_text(), signer)


def open_checkpoint(note: str | bytes, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify ``note`` with ``verifier`` (see :func:`open_note`) and parse its checkpoint.

    With ``origin``, the checkpoint's origin line must equal it (got/want otherwise).
    """
    opened = open_note(note, [verifier])
    return Checkpoint.from_text(opened.text, origin=origin)
