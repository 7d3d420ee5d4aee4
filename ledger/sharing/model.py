"""The vocabulary of data sharing (DOMAIN.md §2, §6.1, §6.3): sharing classes, data items,
purposes, decisions and grant states, the errors of the sharing service, value checks
and masking. Pure: no database, no chain.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from ledger.auth import ForbiddenError
from ledger.chain import grants as chain_grants
from ledger.errors import ConflictError, InvalidInputError, LedgerError
from ledger.idcard import mask_id_number

DATASET_CODE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
"""A catalogue resource code (资源代码)."""
FIELD_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
"""A data item's name (信息项)."""
RFC3339: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
"""An RFC 3339 date-time with an offset (upper-case T and Z), at most microseconds."""
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
MAX_STRING: Final = 1024
"""Longest string value a row may hold, in characters."""
MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Integers beyond this do not survive JSON (RFC 8785 / I-JSON)."""


class SharingClass(enum.StrEnum):
    """Sharing attribute of a dataset (DOMAIN.md §2.1); the chain's number is :attr:`chain`."""

    UNCONDITIONAL = "UNCONDITIONAL"  # 无条件共享
    CONDITIONAL = "CONDITIONAL"  # 有条件共享
    NOT_SHARED = "NOT_SHARED"  # 不予共享

    @property
    def chain(self) -> int:
        return int(chain_grants.SharingClass[self.value])


class FieldType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"  # "YYYY-MM-DD"


class Sensitivity(enum.StrEnum):
    GENERAL = "GENERAL"
    SENSITIVE = "SENSITIVE"


class Masking(enum.StrEnum):
    """How a field is shown under an unconditional grant (DOMAIN.md §7.5 G6)."""

    ID_NUMBER = "id_number"  # 222404********0316
    NAME = "name"  # 金**
    PHONE = "phone"  # 138****0000
    DATE = "date"  # 1978-**-**


class Purpose(enum.StrEnum):
    """The four purposes of the 2016 measures (DOMAIN.md §2.4)."""

    ADMINISTRATIVE_BASIS = "ADMINISTRATIVE_BASIS"  # 行政依据
    WORK_REFERENCE = "WORK_REFERENCE"  # 工作参考
    DATA_VERIFICATION = "DATA_VERIFICATION"  # 数据校核
    BUSINESS_COLLABORATION = "BUSINESS_COLLABORATION"  # 业务协同


class Decision(enum.StrEnum):
    APPROVED = "APPROVED"
    PARTIALLY_APPROVED = "PARTIALLY_APPROVED"
    DENIED = "DENIED"


class GrantStatus(enum.StrEnum):
    """A grant's state at a given time (DOMAIN.md §6.3), by ``grants.is_active``'s rule."""

    NOT_YET_ACTIVE = "NOT_YET_ACTIVE"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


# ---- errors ---------------------------------------------------------------------------------


class DatasetNotSharedError(ForbiddenError):
    """A NOT_SHARED (不予共享) dataset cannot be requested."""

    code = "dataset_not_shared"


class NotDatasetOwnerError(ForbiddenError):
    code = "not_dataset_owner"


class NotGranteeError(ForbiddenError):
    code = "not_grantee"


class GrantNotActiveError(ForbiddenError):
    """The grant does not allow access now (not yet, no longer, or revoked)."""

    code = "grant_not_active"


class PurposeMismatchError(ForbiddenError):
    """Data may be used only for the purpose it was granted for (DOMAIN.md §2.1)."""

    code = "purpose_mismatch"


class UnknownFieldError(InvalidInputError):
    code = "unknown_field"


class InvalidValueError(InvalidInputError):
    code = "invalid_value"


class UnknownDivisionError(InvalidInputError):
    code = "unknown_division"


class InvalidWindowError(InvalidInputError):
    code = "invalid_window"


class InvalidFieldsError(InvalidInputError):
    """Answer fields that are not what the decision allows (a strict subset for partial)."""

    code = "invalid_fields"


class ReasonRequiredError(InvalidInputError):
    """A refusal must give reasons (DOMAIN.md §2.1)."""

    code = "reason_required"


class DatasetExistsError(ConflictError):
    code = "dataset_exists"


class AlreadyAnsweredError(ConflictError):
    code = "already_answered"


class AlreadyRevokedError(ConflictError):
    code = "already_revoked"


class GrantRecordMismatchError(LedgerError):
    """The stored terms of a grant no longer hash to its id: the row was tampered with."""

    code = "grant_record_mismatch"


# ---- data items -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """A data item (DataItem 信息项) of a dataset."""

    name: str
    type: FieldType
    sensitivity: Sensitivity
    personal: bool
    masking: Masking | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.value,
            "sensitivity": self.sensitivity.value,
            "personal": self.personal,
            "masking": self.masking.value if self.masking else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldSpec:
        masking = data.get("masking")
        return cls(
            name=str(data["name"]),
            type=FieldType(data["type"]),
            sensitivity=Sensitivity(data["sensitivity"]),
            personal=bool(data["personal"]),
            masking=Masking(masking) if masking else None,
        )


_MASKABLE: Final = {
    Masking.ID_NUMBER: FieldType.STRING,
    Masking.NAME: FieldType.STRING,
    Masking.PHONE: FieldType.STRING,
    Masking.DATE: FieldType.DATE,
}


def check_fields(fields: list[FieldSpec]) -> None:
    """Names well formed and unique; a masking rule only on a field of the type it masks."""
    if not 1 <= len(fields) <= 64:
        raise InvalidInputError(f"{len(fields)} fields, want 1 to 64")
    seen: set[str] = set()
    for n, spec in enumerate(fields):
        if not FIELD_NAME.fullmatch(spec.name):
            raise InvalidInputError(f"fields[{n}].name: want [a-z][a-z0-9_]{{0,63}}")
        if spec.name in seen:
            raise InvalidInputError(f"fields[{n}].name: {spec.name} is declared twice")
        seen.add(spec.name)
        if spec.masking is not None and _MASKABLE[spec.masking] is not spec.type:
            raise InvalidInputError(
                f"fields[{n}].masking: {spec.masking.value} masks a "
                f"{_MASKABLE[spec.masking].value} field, {spec.name} is a {spec.type.value}"
            )


def check_values(where: str, values: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> None:
    """Every key a declared field, every value of its field's type or null.

    Messages name the field and the types, never the value (it may be personal data).
    """
    for name, value in values.items():
        spec = fields.get(name)
        if spec is None:
            shown = name if FIELD_NAME.fullmatch(name) else "a name"
            raise UnknownFieldError(f"{where}: {shown} is not a field of the dataset")
        if value is None or _fits(spec.type, value):
            continue
        raise InvalidValueError(
            f"{where}.{name}: want {_WANT[spec.type]} or null, got {_json_type(value)}"
        )


_WANT: Final = {
    FieldType.STRING: f"a string of at most {MAX_STRING} characters",
    FieldType.INTEGER: "an integer within ±(2**53 - 1)",
    FieldType.BOOLEAN: "true or false",
    FieldType.DATE: 'a date "YYYY-MM-DD"',
}


def _fits(kind: FieldType, value: Any) -> bool:
    if kind is FieldType.STRING:
        return type(value) is str and len(value) <= MAX_STRING
    if kind is FieldType.INTEGER:
        return type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if kind is FieldType.BOOLEAN:
        return type(value) is bool
    if type(value) is not str or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string" if not _DATE.fullmatch(value) else "an impossible date"
    if isinstance(value, list):
        return "an array"
    return "an object"


# ---- masking --------------------------------------------------------------------------------


def mask(rule: Masking, value: Any) -> Any:
    """``value`` as shown under ``rule``; null stays null."""
    if not isinstance(value, str):
        return value
    if rule is Masking.ID_NUMBER:
        return mask_id_number(value)
    if rule is Masking.NAME:
        return value[:1] + "*" * (len(value) - 1)
    if rule is Masking.PHONE:
        if len(value) >= 11:
            return value[:3] + "*" * (len(value) - 7) + value[-4:]
        return "*" * len(value)
    return value[:4] + "-**-**"  # a date keeps its year


# ---- time -----------------------------------------------------------------------------------


def parse_time(text: str, field: str) -> datetime:
    """An RFC 3339 date-time (with an offset) as UTC, to the second (the chain's unit)."""
    if not re.fullmatch(RFC3339, text):
        raise InvalidWindowError(
            f"{field}: want an RFC 3339 date-time such as 2026-01-05T00:00:00Z"
        )
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidWindowError(f"{field}: {text} is not a real date and time") from None
    if parsed.year < 1970:
        raise InvalidWindowError(f"{field}: {text} is before 1970 (Unix time 0)")
    return parsed.replace(microsecond=0)


def utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones, in UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    return utc(value).isoformat(timespec="seconds").replace("+00:00", "Z")


def unix(value: datetime) -> int:
    return int(utc(value).timestamp())
