"""The codes and canonical URLs of the zorgleefplan model.

Where a standard list has the concept (zib ContactPerson roles) we use it; the rest is
in CodeSystems of our own, published by the service at /fhir/CodeSystem/<id>.
"""

from __future__ import annotations

from typing import Any

BASE = "https://pgo-service.nl/fhir"
CATEGORY_SYSTEM = f"{BASE}/CodeSystem/zorgleefplan-categorie"
DOMAIN_SYSTEM = f"{BASE}/CodeSystem/levensdomein"
ROLE_SYSTEM = f"{BASE}/CodeSystem/netwerkrol"
ZIB_ROLE_SYSTEM = "urn:oid:2.16.840.1.113883.2.4.3.11.22.472"
ZIB_CAREGIVER_SYSTEM = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.23.1"

LAST_EVALUATION_URL = f"{BASE}/StructureDefinition/last-evaluation"
NEXT_EVALUATION_URL = f"{BASE}/StructureDefinition/next-evaluation"
POWER_OF_ATTORNEY_URL = f"{BASE}/StructureDefinition/power-of-attorney"

BSN_SYSTEMS = ("http://fhir.nl/fhir/NamingSystem/bsn", "urn:oid:2.16.840.1.113883.2.4.6.3")

ZORGLEEFPLAN = "zorgleefplan"
AGREEMENT = "afspraak"
NETWORK = "persoonlijk-netwerk"
COMPLAINT = "klacht"
COMPLAINT_HANDLING = "klachtafhandeling"

REGIEBEHANDELAAR = "regiebehandelaar"
GEVOLMACHTIGDE = "gevolmachtigde"

CATEGORIES = {
    ZORGLEEFPLAN: "Zorgleefplan",
    AGREEMENT: "Afspraak in het zorgleefplan",
    NETWORK: "Persoonlijk netwerk",
    COMPLAINT: "Klacht",
    COMPLAINT_HANDLING: "Klachtafhandeling",
}

LIFE_DOMAINS = {
    "mentaal-welbevinden": "Mentaal welbevinden en autonomie",
    "lichamelijk-welbevinden": "Lichamelijk welbevinden en gezondheid",
    "participatie": "Participatie",
    "wonen": "Woon- en leefomstandigheden",
}

OWN_ROLES = {
    REGIEBEHANDELAAR: "Regiebehandelaar",
    GEVOLMACHTIGDE: "Gevolmachtigde",
    "zorgprofessional": "Zorgprofessional",
    "vrijwilliger": "Vrijwilliger",
    "gemeente": "Contactpersoon gemeente",
}

ZIB_ROLES = {
    "03": "Curator",
    "07": "Hulpverlener",
    "11": "Voogd",
    "14": "Bewindvoerder",
    "15": "Mentor",
    "19": "Buur",
    "20": "Vriend(in)",
    "21": "Cliëntondersteuner",
}
CAREGIVER = ("100001", "Mantelzorger")

LEGAL_REPRESENTATIVE_ROLES = frozenset({(ZIB_ROLE_SYSTEM, c) for c in ("03", "11", "14", "15")})
REPRESENTATIVE_ROLES = LEGAL_REPRESENTATIVE_ROLES | {(ROLE_SYSTEM, GEVOLMACHTIGDE)}


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [coding(system, code, display)]}


def category(code: str) -> dict[str, Any]:
    return concept(CATEGORY_SYSTEM, code, CATEGORIES[code])


def life_domain(code: str) -> dict[str, Any]:
    return concept(DOMAIN_SYSTEM, code, LIFE_DOMAINS[code])


def role(code: str) -> dict[str, Any]:
    if code in OWN_ROLES:
        return concept(ROLE_SYSTEM, code, OWN_ROLES[code])
    if code == CAREGIVER[0]:
        return concept(ZIB_CAREGIVER_SYSTEM, *CAREGIVER)
    return concept(ZIB_ROLE_SYSTEM, code, ZIB_ROLES[code])


def codings(concepts: Any) -> list[tuple[str | None, str | None]]:
    """(system, code) pairs of a CodeableConcept or a list of them."""
    items = concepts if isinstance(concepts, list) else [concepts]
    return [
        (c.get("system"), c.get("code"))
        for item in items
        if isinstance(item, dict)
        for c in item.get("coding") or []
        if isinstance(c, dict)
    ]


def has_code(concepts: Any, system: str, code: str) -> bool:
    return (system, code) in codings(concepts)


def domains_of(concepts: Any) -> list[str]:
    return [code for system, code in codings(concepts) if system == DOMAIN_SYSTEM and code]
