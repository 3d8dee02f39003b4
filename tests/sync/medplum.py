"""Medplum's FHIR router with its in-memory repository, as a provider EHR on a
loopback port (tests/peers/medplum, installed by scripts/ensure-fhir-peer).

A token ``tenant-…`` reaches a record of its own (one client's, as a MedMij token
identifies the client); ``stu3-…`` a simulated STU3 endpoint served by the Node
wrapper itself. The wrapper logs every request URL and can inject faults."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

PEER_DIR = Path(__file__).resolve().parents[1] / "peers" / "medplum"
TOKEN = "medplum-peer-token"


class MedplumPeer:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (PEER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
            raise RuntimeError("the FHIR peer is not installed: run scripts/ensure-fhir-peer")
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (closed in __exit__)
        self.process = subprocess.Popen(
            [node, "server.mjs"],
            cwd=PEER_DIR,
            env={**os.environ, "PEER_TOKEN": TOKEN},
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        self.url = ""

    def __enter__(self) -> MedplumPeer:
        stdout = self.process.stdout
        assert stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=90)
        if not line or not line[0].startswith("listening "):
            self.process.kill()
            self.errors.seek(0)
            raise RuntimeError(f"the FHIR peer did not start: {self.errors.read()}")
        self.url = f"http://127.0.0.1:{int(line[0].split()[1])}/fhir"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.errors.close()

    # -- the test controls of tests/peers/medplum/server.mjs ---------------------------

    def _control(self, path: str, body: object = None, token: str | None = None) -> Any:
        root = self.url.removesuffix("/fhir")
        params = {"token": token} if token else None
        if body is None and path == "log":
            return httpx.get(f"{root}/__peer/log", timeout=30).json()
        answer = httpx.post(f"{root}/__peer/{path}", params=params, json=body, timeout=120)
        answer.raise_for_status()
        return answer.json()

    def seed(self, token: str, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create (or, with an id, update) resources in the record ``token`` reaches."""
        created: list[dict[str, Any]] = self._control("seed", resources, token)
        return created

    def delete(self, token: str, references: list[str]) -> None:
        self._control("delete", references, token)

    def fault(self, *, count: int, status: int = 200, body: str | None = None) -> None:
        """The next ``count`` FHIR requests get ``status`` (and ``body``) instead."""
        spec: dict[str, Any] = {"status": status, "count": count}
        if body is not None:
            spec["body"] = body
        self._control("fault", spec)

    def requests(self) -> list[str]:
        """Method and URL of every FHIR request the peer received."""
        seen: list[str] = self._control("log")
        return seen

    def clear_log(self) -> None:
        self._control("log/clear", {})
