"""Providers' authorization servers on loopback ports (tests/peers/oidc-provider,
installed by scripts/ensure-oauth-peer):

- ``OidcProviderPeer``: oidc-provider, a certified OAuth 2.0 / OpenID Connect server,
  with this service registered as a public client (code + PKCE, rotating refresh
  tokens, RFC 7009 revocation); login and consent are completed by a plain GET of the
  interaction URL, so ``authorize`` follows the redirects with a cookie jar.
- ``FaultyAuthorizationServer``: oauth2-mock-server behind a control endpoint that
  queues faults for the next token requests and logs what was asked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

PEER_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "peers", "oidc-provider")
_START_SECONDS = 60
_CALL_TIMEOUT = httpx.Timeout(10.0)


class _NodePeer:
    script = ""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        node = shutil.which("node")
        installed = os.path.isdir(os.path.join(PEER_DIR, "node_modules", "oidc-provider"))
        if node is None or not installed:
            raise RuntimeError("the OAuth peers are not installed: run scripts/ensure-oauth-peer")
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (closed in __exit__)
        self.process = subprocess.Popen(
            [node, self.script],
            cwd=PEER_DIR,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        self.url = ""

    def __enter__(self) -> Any:
        stdout = self.process.stdout
        assert stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=_START_SECONDS)
        if not line or not line[0].startswith("listening "):
            self.process.kill()
            self.process.wait(timeout=10)
            self.errors.seek(0)
            raise RuntimeError(f"{self.script} did not start: {self.errors.read()}")
        self.url = f"http://127.0.0.1:{int(line[0].split()[1])}"
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


class OidcProviderPeer(_NodePeer):
    script = "provider.mjs"

    def __init__(
        self, *, client_id: str, redirect_uri: str, scopes: str, access_ttl: int = 900
    ) -> None:
        super().__init__(
            {
                "CLIENT_ID": client_id,
                "REDIRECT_URI": redirect_uri,
                "SCOPES": scopes,
                "ACCESS_TTL": str(access_ttl),
            }
        )
        self.redirect_uri = redirect_uri

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.url}/auth"

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/token"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.url}/token/revocation"

    def authorize(
        self, authorization_url: str, *, account: str = "client-1", deny: bool = False
    ) -> dict[str, str]:
        """Play the person's browser: follow the provider's redirects (logging in as
        ``account`` and consenting, or declining) until it sends the browser back to
        our redirect URI; the query it carries."""
        headers = {"X-Test-Account": account}
        if deny:
            headers["X-Test-Deny"] = "1"
        url = authorization_url
        with httpx.Client(timeout=_CALL_TIMEOUT, follow_redirects=False) as browser:
            for _ in range(12):
                response = browser.get(url, headers=headers)
                if response.status_code not in (302, 303):
                    raise AssertionError(f"the provider answered {response.status_code}")
                url = urljoin(url, response.headers["location"])
                if url.startswith(self.redirect_uri):
                    query = parse_qs(urlsplit(url).query)
                    return {k: v[0] for k, v in query.items()}
        raise AssertionError("the provider never sent the browser back")

    def refresh(self, client_id: str, refresh_token: str) -> httpx.Response:
        """Use a refresh token ourselves (to see whether the provider still honours it)."""
        return httpx.post(
            self.token_endpoint,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
            },
            timeout=_CALL_TIMEOUT,
        )

    def revoke(self, client_id: str, token: str) -> None:
        response = httpx.post(
            self.revocation_endpoint,
            data={"token": token, "client_id": client_id},
            timeout=_CALL_TIMEOUT,
        )
        assert response.status_code == 200, response.text


class FaultyAuthorizationServer(_NodePeer):
    script = "faults.mjs"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.url}/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/token"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.url}/revoke"

    def authorize(self, authorization_url: str) -> dict[str, str]:
        response = httpx.get(authorization_url, timeout=_CALL_TIMEOUT, follow_redirects=False)
        assert response.status_code == 302, response.text
        query = parse_qs(urlsplit(response.headers["location"]).query)
        return {k: v[0] for k, v in query.items()}

    def fault(self, *faults: dict[str, Any]) -> None:
        response = httpx.post(
            f"{self.url}/test/faults", json={"faults": list(faults)}, timeout=_CALL_TIMEOUT
        )
        response.raise_for_status()

    def log(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/test/log", timeout=_CALL_TIMEOUT)
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()
        return entries
