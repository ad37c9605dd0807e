"""Tests for engine/uscc.py (GB 32100-2015 unified social credit code)."""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


from engine import uscc

VALID = ["91350100M000100Y43", "91110000600037341L"]


def test_weights_are_powers_of_three_mod_31() -> None:
    assert list(uscc.WEIGHTS) == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert len(uscc.ALPHABET) == 31
    assert not set("IOZSV") & set(uscc.ALPHABET)


@pytest.mark.parametrize("code", VALID)
def test_known_valid_codes(code: str) -> None:
    assert uscc.uscc_problem(code) is None
    assert uscc.is_valid_uscc(code)


@pytest.mark.parametrize("code", VALID)
def test_with_check_char_reproduces_known_codes(code: str) -> None:
    assert uscc.with_check_char(code[:17]) == code


def test_with_check_char_builds_valid_codes() -> None:
    code = uscc.with_check_char("91421300MA4900000")
    assert len(code) == 18
    assert uscc.is_valid_uscc(code)


def test_with_check_char_rejects_bad_body() -> None:
    with pytest.raises(ValueError):
        uscc.with_check_char("9135010")
    with pytest.raises(ValueError):
        uscc.with_check_char("91350100I00010000")


@pytest.mark.parametrize("code", VALID)
def test_wrong_check_char(code: str) -> None:
    wrong = next(c for c in uscc.ALPHABET if c != code[-1])
    bad = code[:17] + wrong
    assert not uscc.is_valid_uscc(bad)
    assert uscc.uscc_problem(bad) == f"校验码错误，应为 {code[-1]}"


def test_single_digit_change_is_detected() -> None:
    code = VALID[0]
    bad = code[:5] + ("2" if code[5] != "2" else "3") + code[6:]
    assert not uscc.is_valid_uscc(bad)
    assert uscc.uscc_problem(bad).startswith("校验码错误")


@pytest.mark.parametrize("code", ["", "9135010", VALID[0][:17], VALID[0] + "0", "   "])
def test_wrong_length(code: str) -> None:
    assert not uscc.is_valid_uscc(code)
    assert uscc.uscc_problem(code) == "统一社会信用代码应为18位"


@pytest.mark.parametrize("bad_char", ["I", "O", "Z", "S", "V", "-", "中"])
def test_illegal_characters(bad_char: str) -> None:
    code = VALID[0][:8] + bad_char + VALID[0][9:]
    assert len(code) == 18
    assert not uscc.is_valid_uscc(code)
    assert uscc.uscc_problem(code) == f"含有非法字符 {bad_char}"


def test_illegal_character_in_check_position() -> None:
    code = VALID[1][:17] + "Z"
    assert uscc.uscc_problem(code) == "含有非法字符 Z"


@pytest.mark.parametrize("code", VALID)
def test_lower_case_and_whitespace_are_normalised(code: str) -> None:
    assert uscc.is_valid_uscc(code.lower())
    assert uscc.is_valid_uscc(f"  {code.lower()}\n")
    assert uscc.uscc_problem(f" {code} ") is None


def test_lower_case_illegal_char_reported_upper_case() -> None:
    code = VALID[0][:8].lower() + "o" + VALID[0][9:]
    assert uscc.uscc_problem(code) == "含有非法字符 O"
