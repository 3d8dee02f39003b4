"""Every outbound URL is checked on its text against the allow list (no SSRF)."""

from __future__ import annotations

import pytest

from pgo_service.sync.hosts import EndpointError, HostPolicy, parse_host_list

POLICY = HostPolicy({"ehr.zorgaanbieder.example", "127.0.0.1"})
DEV = HostPolicy({"ehr.zorgaanbieder.example", "127.0.0.1"}, dev_mode=True)


def test_allowed_urls() -> None:
    url = POLICY.check("https://ehr.zorgaanbieder.example:8443/fhir/CarePlan?identifier=a|b")
    assert url.host == "ehr.zorgaanbieder.example"
    assert POLICY.check("https://EHR.Zorgaanbieder.example/fhir").port is None
    assert DEV.check("http://127.0.0.1:8123/fhir").port == 8123


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("https://elsewhere.example/fhir", "not on the allow list"),
        ("https://ehr.zorgaanbieder.example.evil.example/", "not on the allow list"),
        ("https://ehr.zorgaanbieder.example./fhir", "not a DNS name"),
        ("http://ehr.zorgaanbieder.example/fhir", "plain http"),
        ("https://ehr.zorgaanbieder.example@evil.example/", "user information"),
        ("https://a:b@ehr.zorgaanbieder.example/", "user information"),
        ("https://127.0.0.1/fhir", "loopback"),
        ("http://127.0.0.1:8123/fhir", "plain http"),
        ("https://169.254.169.254/latest/meta-data", "IP address"),
        ("https://[::ffff:a9fe:a9fe]/", "not a DNS name"),
        ("https://2130706433/", "IP address"),
        ("https://ehr%2ezorgaanbieder.example/", "not"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://ehr.zorgaanbieder.example/", "scheme"),
        ("https://ehr.zorgaanbieder.example\\@evil.example/", "backslash"),
        ("https://ehr.zorgaanbieder.example/\r\nHost: evil", "control"),
        ("https://ehr.zorgaanbieder.example/#x", "fragment"),
        ("https:///fhir", "no host"),
    ],
)
def test_refused_urls(url: str, complaint: str) -> None:
    with pytest.raises(EndpointError, match=complaint):
        POLICY.check(url)


def test_loopback_needs_dev_mode_and_the_allow_list() -> None:
    with pytest.raises(EndpointError, match="not on the allow list"):
        DEV.check("http://localhost:8123/fhir")


def test_setting_parses_commas_and_spaces() -> None:
    assert parse_host_list(" a.example,B.example  c.example,,") == {
        "a.example",
        "b.example",
        "c.example",
    }
