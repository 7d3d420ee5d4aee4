"""Configuration from the environment (DESIGN.md "The surface a user sees").

Every setting has a default that runs the embedded deployment: SQLite and the
log key under ``./var``. ``docs/configuration`` in the README lists them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ledger.errors import InvalidInputError


class ConfigError(InvalidInputError):
    """A setting has a value that cannot be used."""

    code = "invalid_configuration"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    chain_url: str | None
    chain_key_file: Path
    chain_key_password_file: Path
    anvil_port: int
    log_origin: str
    log_key_file: Path
    anchor_interval: float
    confirmations: int
    host: str
    port: int
    # "development" (the embedded default) or "production": outside development the
    # service refuses to start without a real LEDGER_MASTER_KEY.
    environment: str
    master_key: str | None
    master_key_file: Path
    max_body_bytes: int

    @property
    def anvil_state_file(self) -> Path:
        """Where the embedded anvil keeps its chain between runs."""
        return self.data_dir / "anvil" / "state.json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every ``LEDGER_*`` variable, applying the embedded defaults."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("LEDGER_DATA_DIR", "./var")).resolve()
        return cls(
            data_dir=data_dir,
            database_url=env.get("LEDGER_DATABASE_URL")
            or f"sqlite+pysqlite:///{data_dir / 'ledger.db'}",
            chain_url=env.get("LEDGER_CHAIN_URL") or None,
            chain_key_file=Path(env.get("LEDGER_CHAIN_KEY_FILE") or data_dir / "chain-key.json"),
            chain_key_password_file=Path(
                env.get("LEDGER_CHAIN_KEY_PASSWORD_FILE") or data_dir / "chain-key.password"
            ),
            anvil_port=_number(env, "LEDGER_ANVIL_PORT", "8545", int, minimum=1),
            log_origin=env.get("LEDGER_LOG_ORIGIN", "civic-ledger.local/hunchun"),
            log_key_file=Path(env.get("LEDGER_LOG_KEY_FILE") or data_dir / "log-signer.key"),
            anchor_interval=_number(env, "LEDGER_ANCHOR_INTERVAL", "10", float, minimum=0.1),
            confirmations=_number(env, "LEDGER_CONFIRMATIONS", "2", int, minimum=0),
            host=env.get("LEDGER_HOST", "127.0.0.1"),
            port=_number(env, "LEDGER_PORT", "8000", int, minimum=1),
            environment=_choice(env, "LEDGER_ENV", "development", ("development", "production")),
            master_key=env.get("LEDGER_MASTER_KEY") or None,
            master_key_file=Path(env.get("LEDGER_MASTER_KEY_FILE") or data_dir / "master.key"),
            max_body_bytes=_number(env, "LEDGER_MAX_BODY_BYTES", str(8 << 20), int, minimum=1024),
        )


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise ConfigError(f"{name}={value!r}, want one of {', '.join(allowed)}")
    return value


_Number = TypeVar("_Number", int, float)


def _number(
    env: Mapping[str, str], name: str, default: str, kind: type[_Number], *, minimum: _Number
) -> _Number:
    raw = env.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} is below the minimum {minimum}")
    return value
