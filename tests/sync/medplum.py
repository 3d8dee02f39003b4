"""Medplum's FHIR router with its in-memory repository, as a provider EHR on a
loopback port (tests/peers/medplum, installed by scripts/ensure-fhir-peer)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType

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
