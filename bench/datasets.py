"""Benchmark databases and files, cached under bench/.cache.

Our database is loaded in-process through ``ResourceStore.write`` (the same code a
create runs after validation: current row, version row and search index rows) into
a fresh SQLite file, 1000 resources per transaction, before any server starts. The
file is cached under a key made of the schema's alembic head revision and a digest
of the code that decides what is stored (tables, store, search-index extraction,
search-parameter data) and of the generator, so a change to any of them reloads.
Each run works on a copy, since the create scenarios write to it.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import time
from pathlib import Path

import dataset

from pgo_service.db.engine import make_engine, transaction
from pgo_service.db.migrate import head_revision, migrations_dir, upgrade
from pgo_service.fhir.store import ResourceStore
from pgo_service.fhir.validation import check_resource

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
WORK_DIR = CACHE_DIR / "work"
BATCH = 1000
# the search modules that decide which index rows a resource gets
INDEXING_MODULES = ("extract", "fhirpath", "index", "normalize", "params", "parts")


def _package_dir() -> Path:
    import pgo_service

    return Path(pgo_service.__file__).resolve().parent


def cache_key() -> str:
    package = _package_dir()
    sources = [
        *sorted((migrations_dir() / "versions").glob("*.py")),
        package / "db" / "models.py",
        package / "fhir" / "store.py",
        package / "fhir" / "compartment.py",
        *(package / "fhir" / "search" / f"{name}.py" for name in INDEXING_MODULES),
        *sorted((package / "fhir" / "data").glob("*.json")),
        BENCH_DIR / "dataset.py",
    ]
    digest = hashlib.sha256(dataset.GENERATOR_VERSION.encode())
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"rev{head_revision('sqlite://')}-{digest.hexdigest()[:12]}"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _load(path: Path, careplans: int) -> None:
    url = sqlite_url(path)
    upgrade(url)
    engine = make_engine(url)
    resources = list(dataset.generate(careplans))
    # the generator builds valid resources; check one of each kind as the service would
    check_resource(resources[0], "Patient")
    check_resource(resources[-1], "CarePlan")
    try:
        for start in range(0, len(resources), BATCH):
            with transaction(engine) as conn:
                store = ResourceStore(conn)
                for body in resources[start : start + BATCH]:
                    store.write(body["resourceType"], body["id"], body, None, method="POST")
    finally:
        engine.dispose()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def ours_database(careplans: int) -> tuple[Path, float | None]:
    """A fresh working copy of the cached database; the load time if it was loaded now."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = CACHE_DIR / f"ours-{cache_key()}-{careplans}.sqlite3"
    load_s: float | None = None
    if not cached.exists():
        building = cached.with_name(cached.name + ".building")
        _remove_db(building)
        total = careplans + dataset.patient_count(careplans)
        print(f"  loading {total} resources into {cached.name} ...", flush=True)
        began = time.perf_counter()
        _load(building, careplans)
        load_s = time.perf_counter() - began
        building.replace(cached)
        _remove_db(building)
        for stale in CACHE_DIR.glob(f"ours-*-{careplans}.sqlite3"):
            if stale != cached:
                stale.unlink()
        print(f"  loaded in {load_s:.0f} s", flush=True)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    work = WORK_DIR / f"ours-{careplans}.sqlite3"
    _remove_db(work)
    shutil.copyfile(cached, work)
    return work, load_s


def peer_ndjson(careplans: int) -> Path:
    path = CACHE_DIR / f"dataset-g{dataset.GENERATOR_VERSION}-{careplans}.ndjson"
    if not path.exists():
        dataset.write_ndjson(path, careplans)
        for stale in CACHE_DIR.glob(f"dataset-g*-{careplans}.ndjson"):
            if stale != path:
                stale.unlink()
    return path
