"""Reading MedMij's provider list and whitelist strictly."""

from __future__ import annotations

from datetime import datetime

import pytest

from pgo_service.sync.lists import ListError, parse_whitelist, parse_zal

from .lists import service, whitelist, zal

# The shape of MedMij's published example list (release 2), two providers.
EXAMPLE = zal(
    6,
    {
        "umcharderwijk@medmij": [
            service("4", "https://medmij.za982.xisbridge.net"),
            service("61", "https://78834.umcharderwijk.nl:8099", roles=2),
        ],
        "radiologencentraalflevoland@medmij": [service("1", "https://rcf-rso.nl")],
    },
    stamp="2018-04-16T12:56:33Z",
)


def test_reads_providers_services_and_endpoints() -> None:
    listing = parse_zal(EXAMPLE)
    assert listing.sequence_number == 6
    assert listing.published_at == datetime(2018, 4, 16, 12, 56, 33)
    names = [p.name for p in listing.providers]
    assert names == ["umcharderwijk@medmij", "radiologencentraalflevoland@medmij"]
    ltc = listing.providers[0].data_services[1]
    assert ltc.service_id == "61"
    assert ltc.authorization_endpoint == "https://78834.umcharderwijk.nl:8099/oauth/authorize"
    assert ltc.token_endpoint == "https://78834.umcharderwijk.nl:8099/oauth/token"
    assert [(e.system_role, e.uri) for e in ltc.resource_endpoints] == [
        ("ZLP-1.0.0-FHIR", "https://78834.umcharderwijk.nl:8099/fhir"),
        ("ZLP-1.0.1-FHIR", "https://78834.umcharderwijk.nl:8099/fhir1"),
    ]


def test_an_empty_list_is_valid() -> None:
    assert parse_zal(zal(1, {})).providers == ()


def _mutate(old: str, new: str) -> bytes:
    text = EXAMPLE.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        (b"<Zorgaanbiederslijst>", "well-formed"),
        (
            b'<!DOCTYPE x [<!ENTITY e "boom">]><Zorgaanbiederslijst/>',
            "DTDs",
        ),
        (EXAMPLE.replace(b"release2", b"release9"), "root element"),
        (_mutate("<Volgnummer>6<", "<Volgnummer>zes<"), "Volgnummer"),
        (_mutate("<Volgnummer>6<", "<Volgnummer>0<"), "Volgnummer"),
        (_mutate("2018-04-16T12:56:33Z", "gisteren"), "Tijdstempel"),
        (_mutate("umcharderwijk@medmij", "UMC Harderwijk"), "Zorgaanbiedernaam"),
        (_mutate("<GegevensdienstId>4<", "<GegevensdienstId>vier<"), "GegevensdienstId"),
        (_mutate("<GegevensdienstId>4<", "<GegevensdienstId>61<"), "more than once"),
        (
            _mutate("https://medmij.za982.xisbridge.net/oauth/token", "http://medmij.example/t"),
            "plain http",
        ),
        (
            _mutate(
                "https://medmij.za982.xisbridge.net/fhir",
                "https://user:pw@medmij.za982.xisbridge.net/fhir",
            ),
            "user information",
        ),
        (
            _mutate("https://medmij.za982.xisbridge.net/fhir", "https://10.0.0.7/fhir"),
            "IP address",
        ),
        (
            _mutate("https://medmij.za982.xisbridge.net/fhir", "https://127.0.0.1/fhir"),
            "loopback",
        ),
        (
            _mutate("https://medmij.za982.xisbridge.net/fhir", "https://x.example/fhir?a=b"),
            "query",
        ),
        (_mutate("<Systeemrollen>", "<Onbekend/><Systeemrollen>"), "unexpected element"),
        (
            _mutate("<Systeemrollen>", '<Systeemrollen xmlns:o="urn:o"><o:x/>'),
            "unexpected element",
        ),
        (
            _mutate(
                "<TokenEndpoint>",
                "<TokenEndpoint><TokenEndpointuri>https://a.example/t</TokenEndpointuri>",
            ),
            "more than once",
        ),
        (
            EXAMPLE.replace(b"radiologencentraalflevoland@medmij", b"umcharderwijk@medmij"),
            "Zorgaanbiedernaam occurs more than once",
        ),
    ],
)
def test_refuses_invalid_lists(document: bytes, complaint: str) -> None:
    with pytest.raises(ListError, match=complaint):
        parse_zal(document)


def test_loopback_http_endpoints_only_when_asked() -> None:
    local = zal(1, {"lokaal@medmij": [service("48", "http://127.0.0.1:8765")]})
    with pytest.raises(ListError, match="plain http"):
        parse_zal(local)
    endpoint = parse_zal(local, allow_loopback_http=True).providers[0].data_services[0]
    assert endpoint.token_endpoint == "http://127.0.0.1:8765/oauth/token"


def test_whitelist() -> None:
    hosts = parse_whitelist(whitelist(28654, ["rcf-rso.nl", "medmij.xisbridge.net"]))
    assert hosts.sequence_number == 28654
    assert hosts.hostnames == ("rcf-rso.nl", "medmij.xisbridge.net")
    with pytest.raises(ListError, match="Hostname"):
        parse_whitelist(whitelist(1, ["Not A Host"]))
    with pytest.raises(ListError, match="more than once"):
        parse_whitelist(whitelist(1, ["a.example", "a.example"]))
