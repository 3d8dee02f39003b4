"""The sync may not import careplan, so merge repeats the plan's codes: keep them equal."""

from __future__ import annotations

from pgo_service.careplan import codes
from pgo_service.sync import merge


def test_merge_uses_the_plans_codes() -> None:
    assert merge.CATEGORY_SYSTEM == codes.CATEGORY_SYSTEM
    assert merge.DOMAIN_SYSTEM == codes.DOMAIN_SYSTEM
    assert merge.ZORGLEEFPLAN == codes.ZORGLEEFPLAN
    assert merge.AGREEMENT == codes.AGREEMENT
    assert codes.LIFE_DOMAINS[merge.DEFAULT_DOMAIN[0]] == merge.DEFAULT_DOMAIN[1]
    assert merge.BASE == codes.BASE
