"""The zorgleefplan: rules, search parameters, terminology and operations for pgo apps."""

from __future__ import annotations

from ..fhir.interactions.context import Operation, WriteRule
from . import complaints, handover, view
from .rules import careplan_rules
from .search_params import register_search_params
from .terminology import publish

__all__ = ["operations", "publish", "register_search_params", "rules"]


def rules() -> tuple[WriteRule, ...]:
    return (careplan_rules,)


def operations() -> tuple[Operation, ...]:
    return (
        Operation(
            "zorgleefplan",
            view.DEFINITION,
            view.zorgleefplan,
            ("instance",),
            ("Patient", "CarePlan"),
        ),
        Operation(
            "regiebehandelaar",
            handover.DEFINITION,
            handover.handover,
            ("instance",),
            ("Patient",),
            affects_state=True,
        ),
        Operation(
            "klacht",
            complaints.DEFINITION,
            complaints.file_complaint,
            ("instance",),
            ("Patient",),
            affects_state=True,
        ),
    )
