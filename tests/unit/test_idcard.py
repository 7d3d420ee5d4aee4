"""GB 11643-1999 citizen ID numbers (DOMAIN.md §4.2): validation, errors, masking."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInputError
from ledger.idcard import (
    CHECK_DIGITS,
    PROVINCE_CODES,
    IdNumber,
    IdNumberBirthDateError,
    IdNumberCheckDigitError,
    IdNumberError,
    IdNumberFormatError,
    IdNumberRegionError,
    IdNumberUnderAgeError,
    check_digit,
    mask_id_number,
    parse_id_number,
)

ON = date(2026, 11, 3)
"""A fixed reference date ("election day") so no test depends on the clock."""

PUBLISHED = ["11010519491231002X", "440524188001010014"]
DEMO = [
    "222404197803120316",
    "222404198506210627",
    "222404199001051573",
    "22240419721130244X",
    "222404198810090930",
    "222404199504171286",
]


def with_check_digit(first17: str) -> str:
    return first17 + check_digit(first17)


def assert_private(error: IdNumberError, *secrets: str) -> None:
    """Neither the message, nor str(error), nor the diagnostics quote any of ``secrets``."""
    rendered = [error.message, str(error), repr(error.diagnostics())]
    for secret in secrets:
        for text in rendered:
            assert secret not in text


@pytest.mark.parametrize("number", PUBLISHED + DEMO)
def test_valid_numbers(number: str) -> None:
    parsed = parse_id_number(number, on=ON)
    assert parsed.value == number
    assert parsed.address_code == number[:6]
    assert parsed.birth_date.strftime("%Y%m%d") == number[6:14]
    assert parsed.sequence == number[14:17]
    assert parsed.sex == ("M" if int(number[16]) % 2 else "F")
    assert check_digit(number[:17]) == number[17]


def test_parts_of_a_demo_number() -> None:
    parsed = parse_id_number("222404197803120316", on=ON)
    assert parsed == IdNumber(
        value="222404197803120316",
        address_code="222404",
        birth_date=date(1978, 3, 12),
        sequence="031",
        sex="M",
    )
    assert parse_id_number("11010519491231002X", on=ON).sex == "F"


def test_repr_is_masked() -> None:
    parsed = parse_id_number("222404197803120316", on=ON)
    assert repr(parsed) == "IdNumber('222404********0316')"
    assert str(parsed) == repr(parsed)
    assert "19780312" not in repr(parsed)
    assert parsed.masked == "222404********0316"


def test_default_reference_date_is_today() -> None:
    parse_id_number("222404197803120316")
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(IdNumberBirthDateError):
        parse_id_number(with_check_digit(f"222404{tomorrow:%Y%m%d}031"))


@pytest.mark.parametrize(
    "raw",
    [
        "22240419721130244x",
        " 22240419721130244x ",
        "222404 19721130 244x",
        "\t22240419721130244X\n",
    ],
)
def test_lower_case_x_and_spaces_are_normalised(raw: str) -> None:
    assert parse_id_number(raw, on=ON).value == "22240419721130244X"


def test_errors_are_invalid_input_with_stable_codes() -> None:
    assert issubclass(IdNumberError, InvalidInputError)
    codes = {
        IdNumberFormatError: "id_number_format",
        IdNumberRegionError: "id_number_region",
        IdNumberBirthDateError: "id_number_birth_date",
        IdNumberCheckDigitError: "id_number_check_digit",
        IdNumberUnderAgeError: "id_number_under_age",
    }
    for cls, code in codes.items():
        assert issubclass(cls, IdNumberError)
        assert cls.code == code


# --- format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "ID number has 0 characters, want 17 digits 0-9 then a digit or X"),
        ("22240419780312031", "ID number has 17 characters, want 17 digits 0-9 then a digit or X"),
        (
            "2224041978031203160",
            "ID number has 19 characters, want 17 digits 0-9 then a digit or X",
        ),
        (
            "2224041978O3120316",
            "ID number has a character that is not allowed at position 11, "
            "want 17 digits 0-9 then a digit or X",
        ),
        (
            "22240419780312031Y",
            "ID number has a character that is not allowed at position 18, "
            "want 17 digits 0-9 then a digit or X",
        ),
        (
            "X22404197803120316",
            "ID number has a character that is not allowed at position 1, "
            "want 17 digits 0-9 then a digit or X",
        ),
        # Full-width and other non-ASCII digits are not digits here.
        (
            "２22404197803120316",
            "ID number has a character that is not allowed at position 1, "
            "want 17 digits 0-9 then a digit or X",
        ),
    ],
)
def test_format_errors(raw: str, message: str) -> None:
    with pytest.raises(IdNumberFormatError) as caught:
        parse_id_number(raw, on=ON)
    assert caught.value.code == "id_number_format"
    assert caught.value.message == message
    if raw:
        assert_private(caught.value, raw, raw[:17])


def test_fifteen_digit_numbers_have_their_own_message() -> None:
    old = "222404780312031"
    with pytest.raises(IdNumberFormatError) as caught:
        parse_id_number(old, on=ON)
    assert caught.value.code == "id_number_format"
    assert "15 digits" in caught.value.message
    assert "first-generation" in caught.value.message
    assert "want the 18-character GB 11643-1999 number" in caught.value.message
    assert_private(caught.value, old)


def test_non_string_is_a_format_error() -> None:
    with pytest.raises(IdNumberFormatError, match="ID number is a int, want a string"):
        parse_id_number(222404197803120316, on=ON)  # type: ignore[arg-type]


# --- region -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "province", ["00", "10", "16", "20", "24", "30", "38", "47", "55", "66", "72", "83", "99"]
)
def test_region_errors(province: str) -> None:
    number = with_check_digit(f"{province}2404197803120316"[:17])
    with pytest.raises(IdNumberRegionError) as caught:
        parse_id_number(number, on=ON)
    assert caught.value.code == "id_number_region"
    assert caught.value.message.startswith(
        f"address code province {province!r} is not a GB/T 2260 province code, want 11-15"
    )
    assert_private(caught.value, number, number[:17], number[6:14])


def test_every_listed_province_passes() -> None:
    assert len(PROVINCE_CODES) == 34
    for province in PROVINCE_CODES:
        parse_id_number(with_check_digit(f"{province}0101197803120316"[:17]), on=ON)


# --- birth date ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "message"),
    [
        (
            "19900230",
            "birth date month 02 day 30 is not a calendar date, want a real date YYYYMMDD",
        ),
        (
            "20261301",
            "birth date month 13 day 01 is not a calendar date, want a real date YYYYMMDD",
        ),
        (
            "19900000",
            "birth date month 00 day 00 is not a calendar date, want a real date YYYYMMDD",
        ),
        (
            "19010229",
            "birth date month 02 day 29 is not a calendar date, want a real date YYYYMMDD",
        ),
        ("17991231", "birth year 1799 is before 1800, want 1800-01-01 or later"),
        ("20261104", "birth date is after 2026-11-03, want on or before it"),
        ("20990101", "birth date is after 2026-11-03, want on or before it"),
    ],
)
def test_birth_date_errors(birth: str, message: str) -> None:
    number = with_check_digit(f"222404{birth}031")
    with pytest.raises(IdNumberBirthDateError) as caught:
        parse_id_number(number, on=ON)
    assert caught.value.code == "id_number_birth_date"
    assert caught.value.message == message
    assert_private(caught.value, number, number[:17], birth)


def test_birth_date_limits_are_inclusive() -> None:
    assert parse_id_number(with_check_digit("22240418000101031"), on=ON)
    assert parse_id_number(with_check_digit("22240420000229031"), on=ON)
    born_today = parse_id_number(with_check_digit("22240420261103031"), on=ON)
    assert born_today.birth_date == ON


# --- check digit --------------------------------------------------------------------


@pytest.mark.parametrize("number", PUBLISHED + DEMO)
def test_bad_check_digit(number: str) -> None:
    want = number[17]
    for wrong in "0123456789X":
        if wrong == want:
            continue
        bad = number[:17] + wrong
        with pytest.raises(IdNumberCheckDigitError) as caught:
            parse_id_number(bad, on=ON)
        assert caught.value.code == "id_number_check_digit"
        assert caught.value.message == f"check digit {wrong!r}, want {want!r}"
        assert caught.value.diagnostics()["want"] == want
        assert_private(caught.value, bad, number, number[:17], number[6:14])


def test_a_transposition_is_caught() -> None:
    with pytest.raises(IdNumberCheckDigitError):
        parse_id_number("222404197803121306", on=ON)


def test_check_digit_table() -> None:
    # Remainder r of the weighted sum maps to CHECK_DIGITS[r]; X stands for ten.
    assert CHECK_DIGITS == "10X98765432"
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44052418800101001") == "4"
    assert check_digit("00000000000000000") == "1"


@pytest.mark.parametrize(
    "bad", ["", "1101051949123100", "110105194912310021", "1101051949123100X", 17]
)
def test_check_digit_refuses_other_than_17_digits(bad: object) -> None:
    with pytest.raises(IdNumberFormatError) as caught:
        check_digit(bad)  # type: ignore[arg-type]
    assert caught.value.message.startswith("check digit input has ")
    assert caught.value.message.endswith(", want 17 digits 0-9")
    if isinstance(bad, str) and bad:
        assert_private(caught.value, bad)


# --- age ----------------------------------------------------------------------------


def test_exactly_eighteen_on_election_day_passes() -> None:
    number = with_check_digit("22240420081103031")
    assert parse_id_number(number, on=ON, min_age=18).birth_date == date(2008, 11, 3)


def test_one_day_short_of_eighteen_fails() -> None:
    number = with_check_digit("22240420081104031")
    with pytest.raises(IdNumberUnderAgeError) as caught:
        parse_id_number(number, on=ON, min_age=18)
    assert caught.value.code == "id_number_under_age"
    assert caught.value.message == "holder is 17 full years old on 2026-11-03, want at least 18"
    assert caught.value.diagnostics()["got"] == 17
    assert caught.value.diagnostics()["want"] == 18
    assert_private(caught.value, number, number[:17], "20081104")


def test_no_min_age_means_no_age_check() -> None:
    number = with_check_digit("22240420261101031")
    assert parse_id_number(number, on=ON).birth_date == date(2026, 11, 1)
    assert parse_id_number(number, on=ON, min_age=0)


@pytest.mark.parametrize(
    ("on", "min_age", "passes"),
    [
        (date(2026, 2, 28), 18, False),  # a common year has no 29 February...
        (date(2026, 3, 1), 18, True),  # ...so the birthday falls on 1 March
        (date(2028, 2, 28), 20, False),  # a leap year: still 19 on 28 February
        (date(2028, 2, 29), 20, True),
    ],
)
def test_leap_day_birthday(on: date, min_age: int, passes: bool) -> None:
    number = with_check_digit("22240420080229031")
    if passes:
        assert parse_id_number(number, on=on, min_age=min_age).birth_date == date(2008, 2, 29)
    else:
        with pytest.raises(IdNumberUnderAgeError):
            parse_id_number(number, on=on, min_age=min_age)


# --- masking ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("222404197803120316", "222404********0316"),
        ("22240419721130244X", "222404********244X"),
        ("222404780312031", "222404*****2031"),
        ("12345678901", "123456*8901"),
        ("1234567890", "**********"),
        ("", ""),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


# --- properties ---------------------------------------------------------------------

provinces = st.sampled_from(sorted(PROVINCE_CODES))
birth_dates = st.dates(min_value=date(1800, 1, 1), max_value=ON)


@given(
    province=provinces,
    area=st.from_regex(r"[0-9]{4}", fullmatch=True),
    born=birth_dates,
    sequence=st.from_regex(r"[0-9]{3}", fullmatch=True),
    other=st.sampled_from(CHECK_DIGITS),
)
def test_appending_check_digit_validates_and_nothing_else_does(
    province: str, area: str, born: date, sequence: str, other: str
) -> None:
    first17 = f"{province}{area}{born:%Y%m%d}{sequence}"
    good = first17 + check_digit(first17)
    parsed = parse_id_number(good, on=ON)
    assert parsed.birth_date == born
    assert parsed.sex == ("M" if int(sequence[2]) % 2 else "F")
    assert parse_id_number(good.lower(), on=ON) == parsed
    if other != good[17]:
        with pytest.raises(IdNumberCheckDigitError) as caught:
            parse_id_number(first17 + other, on=ON)
        assert_private(caught.value, first17)


@given(first17=st.from_regex(r"[0-9]{17}", fullmatch=True), position=st.integers(0, 16))
def test_a_single_digit_change_changes_the_check_digit(first17: str, position: int) -> None:
    # MOD 11-2 detects every single-digit substitution: each weight is invertible mod 11.
    digit = (int(first17[position]) + 1) % 10
    changed = first17[:position] + str(digit) + first17[position + 1 :]
    assert check_digit(changed) != check_digit(first17)
