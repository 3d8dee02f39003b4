"""Valid test BSNs (they pass the 11-test)."""

from __future__ import annotations


def make_bsn(seed: int) -> str:
    """The first valid BSN at or after the 8-digit prefix ``10000000 + seed``."""
    prefix = 10_000_000 + seed
    while True:
        digits = [int(c) for c in str(prefix)]
        weighted = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        check = weighted % 11
        if check < 10 and weighted - check != 0:
            return f"{prefix}{check}"
        prefix += 1
