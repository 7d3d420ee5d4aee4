"""Opening a ledger: the database (migrated), the log and its signing key, from settings.

The API and the CLI both start here, so both see the same data in the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ledger.checkpoint import Signer, generate_signer, parse_signer_key
from ledger.config import ConfigError, Settings
from ledger.entries import Entry
from ledger.files import write_private
from ledger.log import LeafInput, MerkleLog, SignedCheckpoint
from ledger.sealing import MasterKey
from ledger.store import create_engine, migrate
from ledger.store.models import log_checkpoints


@dataclass
class Ledger:
    settings: Settings
    engine: Engine
    log: MerkleLog
    signer: Signer
    master: MasterKey

    @classmethod
    def open(cls, settings: Settings, *, create: bool = True) -> Ledger:
        """Open the ledger; with ``create``, make the data dir, schema and log key if missing."""
        if create:
            # Keys and the embedded database live here: the owner's eyes only.
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            migrate(settings.database_url)
        engine = create_engine(settings.database_url)
        signer = load_or_create_signer(settings, create=create and not _has_checkpoints(engine))
        master = load_master_key(settings, create=create)
        return cls(settings, engine, MerkleLog(engine, origin=settings.log_origin), signer, master)

    def append(self, entries: Sequence[Entry]) -> range:
        """Sequence entries into the log; returns their leaf indices."""
        return self.log.append([LeafInput(e.id, e.leaf_data()) for e in entries])

    def checkpoint(self) -> SignedCheckpoint:
        """Integrate everything sequenced, then verify and sign the new tree head."""
        self.log.integrate_all()
        return self.log.sign(self.signer)

    def close(self) -> None:
        self.engine.dispose()


def _has_checkpoints(engine: Engine) -> bool:
    """Whether this log has signed before (then a missing key is lost, not new)."""
    with engine.connect() as conn:
        return conn.execute(select(log_checkpoints.c.tree_size).limit(1)).first() is not None


def load_or_create_signer(settings: Settings, *, create: bool) -> Signer:
    """The log's Ed25519 key, kept as a C2SP signer key in a file readable by its owner only."""
    path = settings.log_key_file
    if path.exists():
        signer = parse_signer_key(path.read_text(encoding="ascii").strip())
        if signer.name != settings.log_origin:
            raise ConfigError(
                f"the log key in {path} is named {signer.name!r}, want {settings.log_origin!r}"
            )
        return signer
    if not create:
        raise ConfigError(
            f"no log key at {path}: run `ledger init` for a new log; a log that has signed "
            "checkpoints needs its own key back (auditors pin its verifier key)"
        )
    signer = generate_signer(settings.log_origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, signer.to_signer_key() + "\n")
    return signer


def load_master_key(settings: Settings, *, create: bool) -> MasterKey:
    """The master key that wraps every data key: ``LEDGER_MASTER_KEY``, or in development
    a key file under the data dir (made at first start, mode 0600).

    Outside development there is no fallback: a service that would seal personal data
    under a key nobody chose must not start.
    """
    if settings.master_key is not None:
        return MasterKey.from_text(settings.master_key)
    if settings.environment != "development":
        raise ConfigError(
            "LEDGER_MASTER_KEY is required when LEDGER_ENV is not development "
            "(32 random bytes, base64; e.g. `python -c 'import secrets,base64;"
            "print(base64.b64encode(secrets.token_bytes(32)).decode())'`)"
        )
    path = settings.master_key_file
    if path.exists():
        return MasterKey.from_text(path.read_text(encoding="ascii").strip())
    if not create:
        raise ConfigError(f"no master key at {path}: run `ledger init` first")
    key = MasterKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, key.to_text() + "\n")
    return key
