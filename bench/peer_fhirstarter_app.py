"""The peer: a fhirstarter server holding Patients and CarePlans in a dict.

This follows fhirstarter's own example (``fhirstarter/examples/example.py``): the
providers keep resources in a module-level dict and search by scanning it. To be
kind to the peer, the dict keeps the validated model objects, so a read does not
parse JSON again. Runs in its own virtual environment (bench/.venv-peer), not
the service's; started by run.py.

Start-up can preload an NDJSON file of resources (the benchmark's data set), so
that the peer's search is measured over the same data as ours.
"""

# fhirstarter reads handler annotations at run time: no postponed annotations here.

import argparse
import io
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("FHIR_SEQUENCE", "R4B")

import uvicorn
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.patient import Patient
from fhirstarter import FHIRProvider, FHIRStarter, InteractionContext
from fhirstarter.exceptions import FHIRResourceNotFoundError

# no fetching of documentation examples from the internet
CONFIG = b"[app.external-documentation-examples]\nenabled = false\n"

DATABASE: dict[str, dict[str, Any]] = {"Patient": {}, "CarePlan": {}}
MODELS: dict[str, Any] = {"Patient": Patient, "CarePlan": CarePlan}

provider = FHIRProvider()


@provider.read(Patient)
async def patient_read(context: InteractionContext, id_: str) -> Patient:
    patient = DATABASE["Patient"].get(id_)
    if patient is None:
        raise FHIRResourceNotFoundError
    result: Patient = patient
    return result


@provider.create(Patient)
async def patient_create(context: InteractionContext, resource: Patient) -> Patient:
    resource.id = str(uuid.uuid4())
    DATABASE["Patient"][resource.id] = resource
    return resource


@provider.search_type(Patient)
async def patient_search_type(
    context: InteractionContext, family: str | None, _count: str | None
) -> Bundle:
    found = [
        patient
        for patient in DATABASE["Patient"].values()
        if any(name.family == family for name in patient.name or ())
    ]
    return _searchset(found, _count)


@provider.read(CarePlan)
async def careplan_read(context: InteractionContext, id_: str) -> CarePlan:
    plan = DATABASE["CarePlan"].get(id_)
    if plan is None:
        raise FHIRResourceNotFoundError
    result: CarePlan = plan
    return result


@provider.create(CarePlan)
async def careplan_create(context: InteractionContext, resource: CarePlan) -> CarePlan:
    resource.id = str(uuid.uuid4())
    DATABASE["CarePlan"][resource.id] = resource
    return resource


def _token_matches(concepts: Any, token: str) -> bool:
    system, _, code = token.rpartition("|") if "|" in token else ("", "", token)
    for concept in concepts or ():
        for coding in concept.coding or ():
            if coding.code == code and (not system or coding.system == system):
                return True
    return False


@provider.search_type(CarePlan)
async def careplan_search_type(
    context: InteractionContext,
    status: str | None,
    category: str | None,
    subject: str | None,
    _count: str | None,
) -> Bundle:
    found = []
    for plan in DATABASE["CarePlan"].values():
        if status is not None and plan.status != status:
            continue
        if category is not None and not _token_matches(plan.category, category):
            continue
        if subject is not None and (plan.subject is None or plan.subject.reference != subject):
            continue
        found.append(plan)
    return _searchset(found, _count)


def _searchset(found: list[Any], count: str | None) -> Bundle:
    page = found[: int(count)] if count else found
    return Bundle(
        type="searchset",
        total=len(found),
        entry=[{"resource": item} for item in page] or None,
    )


def create_app() -> FHIRStarter:
    app = FHIRStarter(title="fhirstarter peer", config_file=io.BytesIO(CONFIG))
    app.add_providers(provider)
    return app


def preload(path: Path) -> int:
    loaded = 0
    with path.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            resource_type = line[line.index(b'"resourceType":"') + 16 :].split(b'"', 1)[0].decode()
            model = MODELS[resource_type].model_validate_json(line)
            DATABASE[resource_type][model.id] = model
            loaded += 1
    return loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--preload", type=Path, help="NDJSON file of Patients and CarePlans")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    if args.preload:
        began = time.perf_counter()
        count = preload(args.preload)
        print(f"preloaded {count} resources in {time.perf_counter() - began:.1f} s", flush=True)
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        workers=1,
        log_level=args.log_level,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
