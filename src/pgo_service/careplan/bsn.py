"""The BSN (burgerservicenummer) and its 11-test."""

from __future__ import annotations

import re

# Nine digits that are not part of a longer number or word.
_NINE_DIGITS = re.compile(r"(?<![0-9A-Za-z])[0-9]{9}(?![0-9A-Za-z])")


def is_valid_bsn(value: str) -> bool:
    """Nine digits whose weighted sum (9..2, then -1) is a multiple of 11 and not zero."""
    if len(value) != 9 or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0 and total != 0


def contains_bsn(value: str) -> bool:
    """Whether ``value`` holds nine digits on their own that pass the 11-test."""
    return any(is_valid_bsn(digits) for digits in _NINE_DIGITS.findall(value))


def mask_bsns(value: str) -> str:
    """``value`` with every BSN in it (nine digits on their own passing the 11-test)
    replaced by asterisks."""
    return _NINE_DIGITS.sub(lambda m: "*" * 9 if is_valid_bsn(m.group()) else m.group(), value)
