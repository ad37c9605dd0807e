"""GB 32100-2015 unified social credit code (统一社会信用代码, USCC) check.

A USCC is 18 characters drawn from a 31-character alphabet (digits and upper-case
letters without I, O, Z, S, V). The 18th character is a check character computed
from the first 17 with weights ``3**i mod 31``.

This module has no dependencies outside the standard library.
"""

from __future__ import annotations

__all__ = [
    "ALPHABET",
    "WEIGHTS",
    "USCC_LENGTH",
    "check_char",
    "with_check_char",
    "uscc_problem",
    "is_valid_uscc",
    "normalize_uscc",
]

#: The 31 characters allowed in a USCC, in value order (index = numeric value).
ALPHABET: str = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: Weights for positions 0..16: ``3**i % 31``.
WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))

#: Total length of a USCC, check character included.
USCC_LENGTH: int = 18

_VALUES: dict[str, int] = {ch: i for i, ch in enumerate(ALPHABET)}


def normalize_uscc(code: str) -> str:
    """Return ``code`` stripped of surrounding whitespace and upper-cased."""
    return code.strip().upper()


def check_char(first17: str) -> str:
    """Compute the check character for the 17-character body ``first17``.

    The body must already be upper case and use only :data:`ALPHABET`;
    otherwise :class:`ValueError` is raised.
    """
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    total = 0
    for ch, weight in zip(first17, WEIGHTS):
        value = _VALUES.get(ch)
        if value is None:
            raise ValueError(f"illegal USCC character {ch!r}")
        total += value * weight
    return ALPHABET[(31 - total % 31) % 31]


def with_check_char(first17: str) -> str:
    """Return the full 18-character USCC made of ``first17`` plus its check character.

    ``first17`` is normalised (stripped, upper-cased) first. Raises
    :class:`ValueError` if it is not 17 characters from :data:`ALPHABET`.
    """
    body = normalize_uscc(first17)
    return body + check_char(body)


def uscc_problem(code: str) -> str | None:
    """Explain what is wrong with ``code``, or return ``None`` if it is a valid USCC.

    The input is normalised with ``.strip().upper()`` before checking. The
    reason is a short Simplified-Chinese message suitable for showing to users.
    """
    if not isinstance(code, str):
        return "统一社会信用代码应为字符串"
    normalized = normalize_uscc(code)
    if len(normalized) != USCC_LENGTH:
        return "统一社会信用代码应为18位"
    for ch in normalized:
        if ch not in _VALUES:
            return f"含有非法字符 {ch}"
    expected = check_char(normalized[:-1])
    if normalized[-1] != expected:
        return f"校验码错误，应为 {expected}"
    return None


def is_valid_uscc(code: str) -> bool:
    """Return ``True`` if ``code`` (after ``.strip().upper()``) is a valid USCC."""
    return uscc_problem(code) is None
