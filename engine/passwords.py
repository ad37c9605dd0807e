"""What a password must be, and how it is hashed (argon2).

等保 2.0 asks for length and three kinds of characters; the security assessment of issue 18 found
that `Password1` passes that and that a change could go back to the same password. So a password
must also not be guessable (zxcvbn, which knows common passwords, words, names, keyboard runs and
dates, and scores 0–4) and not be one the account used recently.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

hasher = PasswordHasher()
# A hash to verify against when there is no real one, so that timing does not reveal which names exist.
DUMMY_HASH = hasher.hash("not-a-real-password-Aa1!")
# zxcvbn's time grows with the length; nothing longer is scored (a longer password is not weak for length).
SCORED_LENGTH = 72

TOO_COMMON = ("密码过于常见或有规律（如 Password1、单词加数字、键盘连续字符、年份日期），容易被猜中。"
              "请换一个更长、不含常见单词和简单规律的密码，例如把几个不相关的词与数字、符号组合起来。")


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; always spends one hash's time, even without a hash."""
    try:
        return hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def weakness(password: str, min_length: int, min_score: int, personal: Iterable[str] = ()) -> str | None:
    """Why a password is too weak, in Chinese with what to do instead, or None.

    `personal`: the account's name and display name, which a password should not be built on.
    """
    if len(password) < min_length:
        return f"密码长度至少 {min_length} 位，请加长后再试"
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if classes < 3:
        return "密码须包含大写字母、小写字母、数字、特殊字符中的至少三类，请补上缺少的种类"
    inputs = [p for p in personal if p]
    if zxcvbn(password[:SCORED_LENGTH], user_inputs=inputs)["score"] < min_score:
        if any(p.lower() in password.lower() for p in inputs if len(p) >= 3):
            return "密码不能以用户名或姓名为基础，容易被猜中。请换一个与账号无关的密码"
        return TOO_COMMON
    return None


def reused(password: str, hashes: Iterable[str | None]) -> bool:
    """Whether `password` is the one behind any of `hashes` (the current and the recent ones)."""
    return any(password_hash and verify(password_hash, password) for password_hash in hashes)


def reuse_message(history: int) -> str:
    return (f"新密码不能与当前密码或最近 {history} 次用过的密码相同，请设置一个没有用过的密码"
            if history else "新密码不能与当前密码相同，请设置一个没有用过的密码")
