"""Generate src/pgo_service/fhir/data/summary-elements.json.

For every resource type: the top-level JSON keys marked isSummary and those that
are mandatory (min >= 1), read from the FHIR model classes of ``fhir.resources``.
Its R4B models are used; R4B did not change the summary or cardinality flags of
the R4 resources this service stores.

    python scripts/gen_summary_elements.py
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

import fhir.resources.R4B as models
from fhir.resources.R4B.resource import Resource

ABSTRACT = ("Resource", "DomainResource")
OUTPUT = Path(__file__).resolve().parents[1] / "src/pgo_service/fhir/data/summary-elements.json"


def resource_classes() -> dict[str, type[Resource]]:
    found: dict[str, type[Resource]] = {}
    for module_info in pkgutil.iter_modules(models.__path__):
        module = importlib.import_module(f"{models.__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Resource):
                name = value.get_resource_type()
                own = value.__name__ == name and value.__module__ == module.__name__
                if own and name not in ABSTRACT:
                    found[name] = value
    return found


def describe(cls: type[Resource]) -> dict[str, list[str]]:
    summary: list[str] = []
    mandatory: list[str] = []
    for field in cls.model_fields.values():
        extra: dict[str, Any] = field.json_schema_extra or {}  # type: ignore[assignment]
        key = field.alias
        if not extra.get("element_property") or key is None:
            continue
        if extra.get("summary_element_property"):
            summary.append(key)
        required = extra.get("element_required") or extra.get("one_of_many_required")
        if field.is_required() or required:
            mandatory.append(key)
    return {"summary": sorted(summary), "mandatory": sorted(mandatory)}


def main() -> None:
    table = {name: describe(cls) for name, cls in sorted(resource_classes().items())}
    OUTPUT.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(table)} resource types to {OUTPUT}")


if __name__ == "__main__":
    main()
