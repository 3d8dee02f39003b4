"""MedMij list documents for the tests, in the release 2 format."""

from __future__ import annotations

from collections.abc import Iterable

ZAL_NS = "xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release2/"
WHITELIST_NS = "xmlns://afsprakenstelsel.medmij.nl/whitelist/release2/"

Service = tuple[str, str, str, dict[str, str]]  # id, authorization, token, role -> resource


def service(
    service_id: str, base: str = "https://ehr.zorgaanbieder.example", roles: int = 1
) -> Service:
    endpoints = {f"ZLP-1.0.{n}-FHIR": f"{base}/fhir{'' if n == 0 else n}" for n in range(roles)}
    return (service_id, f"{base}/oauth/authorize", f"{base}/oauth/token", endpoints)


def zal(
    number: int,
    providers: dict[str, Iterable[Service]],
    stamp: str = "2026-11-30T12:00:00Z",
) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Zorgaanbiederslijst xmlns="{ZAL_NS}">',
        f"  <Tijdstempel>{stamp}</Tijdstempel>",
        f"  <Volgnummer>{number}</Volgnummer>",
        "  <Zorgaanbieders>",
    ]
    for name, services in providers.items():
        parts += [
            "    <Zorgaanbieder>",
            f"      <Zorgaanbiedernaam>{name}</Zorgaanbiedernaam>",
            "      <Gegevensdiensten>",
        ]
        for service_id, authorization, token, roles in services:
            parts += [
                "        <Gegevensdienst>",
                f"          <GegevensdienstId>{service_id}</GegevensdienstId>",
                "          <AuthorizationEndpoint>",
                f"            <AuthorizationEndpointuri>{authorization}</AuthorizationEndpointuri>",
                "          </AuthorizationEndpoint>",
                "          <TokenEndpoint>",
                f"            <TokenEndpointuri>{token}</TokenEndpointuri>",
                "          </TokenEndpoint>",
                "          <Systeemrollen>",
            ]
            for role, uri in roles.items():
                parts += [
                    "            <Systeemrol>",
                    f"              <Systeemrolcode>{role}</Systeemrolcode>",
                    "              <ResourceEndpoint>",
                    f"                <ResourceEndpointuri>{uri}</ResourceEndpointuri>",
                    "              </ResourceEndpoint>",
                    "            </Systeemrol>",
                ]
            parts += ["          </Systeemrollen>", "        </Gegevensdienst>"]
        parts += ["      </Gegevensdiensten>", "    </Zorgaanbieder>"]
    parts += ["  </Zorgaanbieders>", "</Zorgaanbiederslijst>", ""]
    return "\n".join(parts).encode()


def whitelist(number: int, hostnames: Iterable[str]) -> bytes:
    nodes = "".join(f"<MedMijNode><Hostname>{host}</Hostname></MedMijNode>" for host in hostnames)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Whitelist xmlns="{WHITELIST_NS}">'
        f"<Tijdstempel>2026-11-30T12:00:00+01:00</Tijdstempel><Volgnummer>{number}</Volgnummer>"
        f"<MedMijNodes>{nodes}</MedMijNodes></Whitelist>"
    ).encode()
