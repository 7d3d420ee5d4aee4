"""Citizen ID numbers (公民身份号码) per GB 11643-1999: parsing, validation, masking.

Pure functions of strings and dates (DOMAIN.md §4.2). An 18-character number is

    address code (6, GB/T 2260) | birth date (8, YYYYMMDD) | sequence (3) | check digit (1)

The sequence's last digit is odd for men and even for women; the check digit is ISO 7064
MOD 11-2 over the first 17 digits (:func:`check_digit`).

The ID number is personal data (DOMAIN.md §4): no error message and no diagnostic this
module produces contains the number, or its birth date, so errors may be logged as they
are. :class:`IdNumber` prints masked (:func:`mask_id_number`); read ``.value`` for the
number itself, and only where a purpose needs it.

Only the province part of the address code is checked (against the GB/T 2260 province
codes): the full county list, with its historical codes, is not kept here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from ledger.errors import InvalidInputError

__all__ = [
    "CHECK_DIGITS",
    "EARLIEST_BIRTH_DATE",
    "PROVINCE_CODES",
    "WEIGHTS",
    "IdNumber",
    "IdNumberBirthDateError",
    "IdNumberCheckDigitError",
    "IdNumberError",
    "IdNumberFormatError",
    "IdNumberRegionError",
    "IdNumberUnderAgeError",
    "check_digit",
    "mask_id_number",
    "parse_id_number",
]

WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
"""ISO 7064 MOD 11-2 weights of digits 1..17 (2**(18-i) mod 11)."""
CHECK_DIGITS: Final = "10X98765432"
"""The check digit for each remainder 0..10 of the weighted sum mod 11."""
PROVINCE_CODES: Final = frozenset(
    f"{code:02d}"
    for code in (
        *range(11, 16),  # 北京 天津 河北 山西 内蒙古
        *range(21, 24),  # 辽宁 吉林 黑龙江
        *range(31, 38),  # 上海 江苏 浙江 安徽 福建 江西 山东
        *range(41, 47),  # 河南 湖北 湖南 广东 广西 海南
        *range(50, 55),  # 重庆 四川 贵州 云南 西藏
        *range(61, 66),  # 陕西 甘肃 青海 宁夏 新疆
        71,  # 台湾
        81,  # 香港
        82,  # 澳门
    )
)
"""GB/T 2260 province-level codes: the first two digits of every address code."""
EARLIEST_BIRTH_DATE: Final = date(1800, 1, 1)
"""Birth dates before this are refused.

Not 1900: the published example 440524188001010014 is born in 1880 and must validate
(DOMAIN.md §4.2). Implausibly old holders are the caller's policy.
"""

_EIGHTEEN = re.compile(r"[0-9]{17}[0-9X]")
_FIFTEEN = re.compile(r"[0-9]{15}")
_SEVENTEEN = re.compile(r"[0-9]{17}")


class IdNumberError(InvalidInputError):
    """An ID number is not valid. Messages and diagnostics never contain the number."""

    code = "id_number_invalid"


class IdNumberFormatError(IdNumberError):
    """Not 17 digits followed by a digit or ``X`` (or a 15-digit first-generation number)."""

    code = "id_number_format"


class IdNumberRegionError(IdNumberError):
    """The address code does not start with a GB/T 2260 province code."""

    code = "id_number_region"


class IdNumberBirthDateError(IdNumberError):
    """The birth date is not a calendar date, or is in the future, or is before 1800."""

    code = "id_number_birth_date"


class IdNumberCheckDigitError(IdNumberError):
    """The last character is not the ISO 7064 MOD 11-2 check digit of the first 17."""

    code = "id_number_check_digit"


class IdNumberUnderAgeError(IdNumberError):
    """The holder is younger than the required age on the reference date."""

    code = "id_number_under_age"


@dataclass(frozen=True, repr=False)
class IdNumber:
    """A valid 18-character ID number and its parts, as :func:`parse_id_number` returns.

    ``repr`` and ``str`` show only the masked number, so an ``IdNumber`` that reaches a
    log or a traceback does not leak it.
    """

    value: str
    """The normalised number: 18 characters, an upper-case ``X`` if any."""
    address_code: str
    """Digits 1-6: the GB/T 2260 address code of the place of first registration."""
    birth_date: date
    """Digits 7-14."""
    sequence: str
    """Digits 15-17: the order number among people born that day in that area."""
    sex: Literal["M", "F"]
    """From the last sequence digit: odd is ``"M"``, even is ``"F"``."""

    @property
    def masked(self) -> str:
        """The number for display: :func:`mask_id_number` of :attr:`value`."""
        return mask_id_number(self.value)

    def __repr__(self) -> str:
        return f"IdNumber({self.masked!r})"


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check digit (``0``-``9`` or ``X``) of 17 ASCII digits.

    Raises :class:`IdNumberFormatError` when ``first17`` is not exactly 17 ASCII digits.
    """
    if not isinstance(first17, str) or _SEVENTEEN.fullmatch(first17) is None:
        raise IdNumberFormatError(
            f"check digit input has {_describe(first17, 17)}, want 17 digits 0-9",
            field="id_number",
        )
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_DIGITS[total % 11]


def parse_id_number(raw: str, *, on: date | None = None, min_age: int | None = None) -> IdNumber:
    """Validate an 18-character ID number and split it into its parts.

    ``raw`` is normalised first: surrounding whitespace and any spaces inside (people
    type the number in groups) are removed, and a lower-case ``x`` becomes ``X``.
    Then, in this order, each failure raising its own :class:`IdNumberError`:

    1. format: 17 ASCII digits then a digit or ``X``; a 15-digit first-generation
       number is refused with its own message (:class:`IdNumberFormatError`);
    2. the first two digits are a GB/T 2260 province code (:class:`IdNumberRegionError`);
    3. digits 7-14 are a calendar date, not before 1800-01-01 (:data:`EARLIEST_BIRTH_DATE`)
       and not after ``on``
       (:class:`IdNumberBirthDateError`);
    4. the last character is :func:`check_digit` of the first 17
       (:class:`IdNumberCheckDigitError`);
    5. if ``min_age`` is given, the holder has had at least ``min_age`` birthdays on
       ``on`` (:class:`IdNumberUnderAgeError`). Someone born on 29 February turns a year
       older on 1 March in a common year.

    ``on`` is the reference date, e.g. election day; it defaults to today's local date.
    """
    reference = date.today() if on is None else on
    value = _normalise(raw)
    _check_format(value)

    province = value[:2]
    if province not in PROVINCE_CODES:
        raise IdNumberRegionError(
            f"address code province {province!r} is not a GB/T 2260 province code, "
            "want 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81 or 82",
            field="id_number",
            got=province,
        )

    birth_date = _birth_date(value[6:14], reference)

    want = check_digit(value[:17])
    if value[17] != want:
        raise IdNumberCheckDigitError(
            f"check digit {value[17]!r}, want {want!r}",
            field="id_number",
            got=value[17],
            want=want,
        )

    if min_age is not None:
        age = _full_years(birth_date, reference)
        if age < min_age:
            raise IdNumberUnderAgeError(
                f"holder is {age} full years old on {reference.isoformat()}, "
                f"want at least {min_age}",
                field="id_number",
                got=age,
                want=min_age,
                on=reference.isoformat(),
            )

    return IdNumber(
        value=value,
        address_code=value[:6],
        birth_date=birth_date,
        sequence=value[14:17],
        sex="M" if int(value[16]) % 2 == 1 else "F",
    )


def mask_id_number(value: str) -> str:
    """The number for display: the first 6 and last 4 characters, ``*`` in between.

    ``222404197803120316`` becomes ``222404********0316``: the area and the last digits
    stay, the birth date goes. A string of 10 characters or fewer is masked entirely.
    """
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def _normalise(raw: str) -> str:
    if not isinstance(raw, str):
        raise IdNumberFormatError(
            f"ID number is a {type(raw).__name__}, want a string", field="id_number"
        )
    return raw.strip().replace(" ", "").upper()


def _check_format(value: str) -> None:
    if _EIGHTEEN.fullmatch(value) is not None:
        return
    if _FIFTEEN.fullmatch(value) is not None:
        raise IdNumberFormatError(
            "ID number has 15 digits (a first-generation number, no longer valid since "
            "2013-01-01), want the 18-character GB 11643-1999 number",
            field="id_number",
            got_length=15,
        )
    raise IdNumberFormatError(
        f"ID number has {_describe(value, 18)}, want 17 digits 0-9 then a digit or X",
        field="id_number",
        got_length=len(value),
    )


def _describe(value: object, want_length: int) -> str:
    """What is wrong with the shape of ``value``, without quoting any of it."""
    if not isinstance(value, str):
        return f"type {type(value).__name__}"
    if len(value) != want_length:
        return f"{len(value)} characters"
    for position, char in enumerate(value, start=1):
        if not ("0" <= char <= "9" or (char == "X" and position == 18)):
            return f"a character that is not allowed at position {position}"
    return f"{len(value)} characters"


def _birth_date(digits: str, on: date) -> date:
    year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:8])
    try:
        born = date(year, month, day)
    except ValueError:
        # Name the month and day but not the whole date: a birth date is personal data.
        raise IdNumberBirthDateError(
            f"birth date month {month:02d} day {day:02d} is not a calendar date, "
            "want a real date YYYYMMDD",
            field="id_number",
        ) from None
    if born < EARLIEST_BIRTH_DATE:
        raise IdNumberBirthDateError(
            f"birth year {year} is before {EARLIEST_BIRTH_DATE.year}, "
            f"want {EARLIEST_BIRTH_DATE.isoformat()} or later",
            field="id_number",
        )
    if born > on:
        raise IdNumberBirthDateError(
            f"birth date is after {on.isoformat()}, want on or before it",
            field="id_number",
            on=on.isoformat(),
        )
    return born


def _full_years(born: date, on: date) -> int:
    """Birthdays had by ``on``. A 29 February birthday falls on 1 March in common years."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
