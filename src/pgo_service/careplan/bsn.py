"""The BSN (burgerservicenummer) and its 11-test."""

from __future__ import annotations


def is_valid_bsn(value: str) -> bool:
    """Nine digits whose weighted sum (9..2, then -1) is a multiple of 11 and not zero."""
    if len(value) != 9 or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0 and total != 0
