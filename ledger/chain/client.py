"""A connection to an EVM chain and the one account that sends our transactions.

Transactions are built, signed locally (eth-account) and sent raw, so the same
code runs on eth-tester, anvil and any JSON-RPC node; no node ever holds our key.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxParams, TxReceipt

from ledger.errors import LedgerError
from ledger.files import write_private

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "contracts" / "build"


class ChainError(LedgerError):
    code = "chain_error"


def load_artifact(name: str) -> dict[str, Any]:
    """The committed artifact (ABI, bytecode) of contract ``name``."""
    path = BUILD / f"{name}.json"
    if not path.exists():
        raise ChainError(f"no artifact {path}; run scripts/compile_contracts.py")
    artifact: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return artifact


@dataclass
class Chain:
    """A web3 connection plus the account that signs our transactions."""

    w3: Web3
    account: LocalAccount

    @classmethod
    def connect(cls, url: str, account: LocalAccount, *, timeout: float = 30.0) -> Chain:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
        if not w3.is_connected():
            raise ChainError(f"no chain node answers at {url}")
        return cls(w3, account)

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def send(self, call: ContractFunction, *, gas: int | None = None) -> HexBytes:
        """Sign and broadcast ``call`` from our account; returns the transaction hash."""
        params: TxParams = {
            "from": self.account.address,
            "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
            "chainId": self.chain_id,
        }
        if gas is not None:
            params["gas"] = gas
        tx = call.build_transaction(params)
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        return HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))

    def transact(self, call: ContractFunction, *, timeout: float = 120.0) -> TxReceipt:
        """Send ``call`` and wait for its receipt; a revert raises ChainError."""
        receipt = self.w3.eth.wait_for_transaction_receipt(self.send(call), timeout=timeout)
        if receipt["status"] != 1:
            raise ChainError(f"transaction {receipt['transactionHash'].hex()} reverted")
        return receipt

    def deploy(self, name: str, *args: Any) -> tuple[Contract, TxReceipt]:
        """Deploy contract ``name`` from its committed artifact."""
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx = factory.constructor(*args).build_transaction(
            {
                "from": self.account.address,
                "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
                "chainId": self.chain_id,
            }
        )
        signed = self.account.sign_transaction(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        )
        if receipt["status"] != 1 or receipt["contractAddress"] is None:
            raise ChainError(f"deploying {name} failed in {receipt['transactionHash'].hex()}")
        return self.contract(name, str(receipt["contractAddress"])), receipt

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"]
        )


def load_or_create_keystore(
    path: Path, password_file: Path, *, create: bool = True
) -> LocalAccount:
    """The operator's chain key from a Web3 Secret Storage file, created if missing.

    The password is read from ``password_file``; when both are missing (and
    ``create``) a random password is made and both files are written with mode 0600.
    """
    if path.exists():
        password = password_file.read_text(encoding="utf-8").strip()
        key = Account.decrypt(json.loads(path.read_text(encoding="utf-8")), password)
        account: LocalAccount = Account.from_key(key)
        return account
    if not create:
        raise ChainError(
            f"no chain key at {path}: put the operator's keystore there (and its password in "
            f"{password_file}), funded and holding the anchorer role"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not password_file.exists():
        write_private(password_file, secrets.token_urlsafe(32) + "\n")
    password = password_file.read_text(encoding="utf-8").strip()
    account = Account.create()
    write_private(path, json.dumps(Account.encrypt(account.key, password)))
    return account
