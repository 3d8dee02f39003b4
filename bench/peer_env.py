"""The peer's own virtual environment (bench/.venv-peer), created on first use.

fhirstarter pins its own fhir.resources and FastAPI, so it lives apart from the
service's environment. It is installed from PyPI with pip; the installed
requirements are recorded, and a change of them reinstalls.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENV = BENCH_DIR / ".venv-peer"
REQUIREMENTS = ("fhirstarter==4.2.0", "uvicorn[standard]>=0.30,<1")
_MARKER = VENV / "bench-requirements.txt"


def python() -> Path:
    return VENV / "bin" / "python"


def ensure(log: Path) -> Path:
    wanted = "\n".join(REQUIREMENTS)
    if python().exists() and _MARKER.exists() and _MARKER.read_text() == wanted:
        return python()
    print(f"  installing the peer into {VENV.relative_to(BENCH_DIR.parent)} ...", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        if not python().exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(VENV)], check=True, stdout=out, stderr=out
            )
        subprocess.run(
            [
                str(python()),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                *REQUIREMENTS,
            ],
            check=True,
            stdout=out,
            stderr=out,
            timeout=900,
        )
    _MARKER.write_text(wanted)
    return python()


def versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({n: m.version(n) for n in "
        "('fhirstarter', 'fhir.resources', 'fastapi', 'starlette', 'uvicorn', 'pydantic')}))"
    )
    result = subprocess.run(
        [str(python()), "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    found: dict[str, str] = json.loads(result.stdout)
    return found
