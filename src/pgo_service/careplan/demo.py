"""A realistic demo client, modelled on the example in the RVS advice.

Truus de Vries (80) has arthrosis and cares for her husband Henk, who has beginning
dementia. After a hip fracture she was in hospital and in rehabilitation; now a district
nurse, a physiotherapist, her GP, a neighbour, her daughter and the municipality help
her at home. Her daughter holds a power of attorney; her GP is her regiebehandelaar.

The demo is one transaction Bundle with urn:uuid references, so it is loaded through
exactly the same rules as any client's data. It creates no Consent: nobody gets access
the client did not give.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from . import codes

BSN = codes.BSN_SYSTEMS[0]
AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"
URA = "http://fhir.nl/fhir/NamingSystem/ura"
DEMO_BSN = "999911120"
DEMO_IDENTIFIER = f"{BSN}|{DEMO_BSN}"
HOSPITAL_EHR = "https://ehr.ziekenhuis-rijnstad.example/fhir/NamingSystem/afspraak"


class _Builder:
    def __init__(self, today: date) -> None:
        self.today = today
        self.entries: list[dict[str, Any]] = []
        self.counter = 0

    def day(self, offset: int) -> str:
        return (self.today + timedelta(days=offset)).isoformat()

    def add(self, resource: dict[str, Any]) -> str:
        self.counter += 1
        full_url = f"urn:uuid:00000000-0000-4000-8000-{self.counter:012d}"
        self.entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
        return full_url


def _ref(full_url: str, display: str | None = None) -> dict[str, Any]:
    return {"reference": full_url, **({"display": display} if display else {})}


def _organization(b: _Builder, name: str, ura: str) -> str:
    return b.add(
        {
            "resourceType": "Organization",
            "identifier": [{"system": URA, "value": ura}],
            "name": name,
        }
    )


def _professional(b: _Builder, family: str, given: str, agb: str, org: str, role: str) -> str:
    practitioner = b.add(
        {
            "resourceType": "Practitioner",
            "identifier": [{"system": AGB, "value": agb}],
            "name": [{"family": family, "given": [given]}],
        }
    )
    return b.add(
        {
            "resourceType": "PractitionerRole",
            "active": True,
            "practitioner": _ref(practitioner, f"{given} {family}"),
            "organization": _ref(org),
            "code": [{"text": role}],
        }
    )


def demo_bundle(today: date) -> dict[str, Any]:
    b = _Builder(today)
    truus = b.add(
        {
            "resourceType": "Patient",
            "identifier": [{"system": BSN, "value": DEMO_BSN}],
            "name": [{"family": "de Vries", "given": ["Geertruida"], "text": "Truus de Vries"}],
            "gender": "female",
            "birthDate": (today.replace(year=today.year - 80) - timedelta(days=40)).isoformat(),
            "address": [{"line": ["Lindelaan 12"], "city": "Rijnstad", "postalCode": "1234 AB"}],
        }
    )
    people = _people(b, truus)
    goals, conditions = _goals_and_conditions(b, truus)
    network = _network(b, truus, people)
    plan = b.add(_plan(b, truus, network, goals, conditions))
    _agreements(b, truus, plan, people, goals)
    return {"resourceType": "Bundle", "type": "transaction", "entry": b.entries}


def _people(b: _Builder, truus: str) -> dict[str, str]:
    practice = _organization(b, "Huisartsenpraktijk De Linde", "90000101")
    homecare = _organization(b, "Thuiszorg Rijnstad", "90000102")
    physio = _organization(b, "Fysiotherapie Centrum Rijnstad", "90000103")
    hospital = _organization(b, "Ziekenhuis Rijnstad", "90000104")
    municipality = _organization(b, "Gemeente Rijnstad", "90000105")
    support = _organization(b, "Cliëntondersteuning Rijnstad", "90000106")
    return {
        "gp": _professional(b, "Jansen", "Pieter", "01000001", practice, "Huisarts"),
        "nurse": _professional(b, "Bos", "Sanne", "01000002", homecare, "Wijkverpleegkundige"),
        "physio": _professional(b, "Smits", "Jeroen", "01000003", physio, "Fysiotherapeut"),
        "surgeon": _professional(
            b, "El Amrani", "Yasmina", "01000004", hospital, "Orthopedisch chirurg"
        ),
        "wmo": _professional(b, "Kok", "Linda", "01000005", municipality, "Wmo-consulent"),
        "support": _professional(b, "Visser", "Ahmed", "01000006", support, "Cliëntondersteuner"),
        "henk": b.add(_related(truus, "Henk", "de Vries", "HUSB", "husband")),
        "daughter": b.add(_related(truus, "Marieke", "de Vries", "DAU", "daughter")),
        "neighbour": b.add(_related(truus, "Els", "Mulder", "NBOR", "neighbor")),
    }


def _related(truus: str, given: str, family: str, code: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "RelatedPerson",
        "active": True,
        "patient": _ref(truus),
        "name": [{"family": family, "given": [given]}],
        "relationship": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                        "code": code,
                        "display": display,
                    }
                ]
            }
        ],
    }


_GOALS = (
    ("lichamelijk-welbevinden", "Ik wil weer zelf naar de supermarkt kunnen lopen."),
    (
        "mentaal-welbevinden",
        "Ik wil de zorg voor Henk volhouden zonder er zelf aan onderdoor te gaan.",
    ),
    ("participatie", "Ik wil weer naar de koffieochtend in het buurthuis."),
    ("wonen", "Ik wil met Henk veilig thuis blijven wonen."),
)
_CONDITIONS = (
    ("lichamelijk-welbevinden", "Heupfractuur rechts, geopereerd"),
    ("lichamelijk-welbevinden", "Artrose van knieën en handen"),
    ("mentaal-welbevinden", "Zware mantelzorgbelasting (zorg voor partner met dementie)"),
)


def _goals_and_conditions(b: _Builder, truus: str) -> tuple[dict[str, str], list[str]]:
    goals = {
        domain: b.add(
            {
                "resourceType": "Goal",
                "lifecycleStatus": "active",
                "achievementStatus": {"text": "in progress"},
                "category": [codes.life_domain(domain)],
                "description": {"text": text},
                "subject": _ref(truus),
                "startDate": b.day(-60),
            }
        )
        for domain, text in _GOALS
    }
    conditions = [
        b.add(
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "category": [codes.life_domain(domain)],
                "code": {"text": text},
                "subject": _ref(truus),
            }
        )
        for domain, text in _CONDITIONS
    ]
    return goals, conditions


def _member(
    b: _Builder, who: str, role_codes: tuple[str, ...], start: int, end: int | None = None
) -> dict[str, Any]:
    period = {"start": b.day(start), **({"end": b.day(end)} if end is not None else {})}
    return {"role": [codes.role(c) for c in role_codes], "member": _ref(who), "period": period}


def _network(b: _Builder, truus: str, p: dict[str, str]) -> str:
    return b.add(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "category": [codes.category(codes.NETWORK)],
            "name": "Persoonlijk netwerk van Truus de Vries",
            "subject": _ref(truus),
            "participant": [
                _member(b, p["gp"], ("zorgprofessional",), -3650),
                _member(b, p["surgeon"], (codes.REGIEBEHANDELAAR,), -90, -45),
                _member(b, p["gp"], (codes.REGIEBEHANDELAAR,), -44),
                _member(b, p["surgeon"], ("zorgprofessional",), -90),
                _member(b, p["nurse"], ("zorgprofessional",), -45),
                _member(b, p["physio"], ("zorgprofessional",), -45),
                _member(b, p["wmo"], ("gemeente",), -30),
                _member(b, p["support"], ("21",), -30),
                _member(b, p["daughter"], (codes.GEVOLMACHTIGDE, "100001"), -400),
                _member(b, p["neighbour"], ("19", "100001"), -45),
            ],
        }
    )


def _plan(
    b: _Builder, truus: str, network: str, goals: dict[str, str], conditions: list[str]
) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [codes.category(codes.ZORGLEEFPLAN)],
        "title": "Zorgleefplan Truus de Vries",
        "subject": _ref(truus),
        "period": {"start": b.day(-60)},
        "created": b.day(-60),
        "careTeam": [_ref(network)],
        "goal": [_ref(g) for g in goals.values()],
        "addresses": [_ref(c) for c in conditions],
        "extension": [
            {"url": codes.LAST_EVALUATION_URL, "valueDate": b.day(-14)},
            {"url": codes.NEXT_EVALUATION_URL, "valueDate": b.day(166)},
            {"url": codes.POWER_OF_ATTORNEY_URL, "valueBoolean": True},
        ],
    }


def _timing(frequency: int, period_unit: str) -> dict[str, Any]:
    return {"repeat": {"frequency": frequency, "period": 1, "periodUnit": period_unit}}


def _agreement(
    b: _Builder,
    truus: str,
    plan: str,
    goal: str,
    domain: str,
    what: str,
    performer: str,
    timing: dict[str, Any] | None,
    **extra: Any,
) -> dict[str, Any]:
    detail: dict[str, Any] = {"status": "in-progress", "performer": [_ref(performer)]}
    if timing:
        detail["scheduledTiming"] = timing
    detail.update(extra.pop("detail", {}))
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [codes.category(codes.AGREEMENT), codes.life_domain(domain)],
        "title": what,
        "description": what,
        "subject": _ref(truus),
        "partOf": [_ref(plan)],
        "goal": [_ref(goal)],
        "period": {"start": b.day(-45)},
        "activity": [{"detail": detail, **extra.pop("activity", {})}],
        **extra,
    }


def _agreements(
    b: _Builder, truus: str, plan: str, p: dict[str, str], goals: dict[str, str]
) -> None:
    body, mind = "lichamelijk-welbevinden", "mentaal-welbevinden"
    progress = [
        {
            "authorReference": _ref(p["physio"]),
            "time": f"{b.day(-7)}T10:00:00+01:00",
            "text": "Loopt 200 meter met rollator, pijn neemt af.",
        }
    ]
    b.add(
        _agreement(
            b,
            truus,
            plan,
            goals[body],
            body,
            "Fysiotherapie: looptraining",
            p["physio"],
            _timing(2, "wk"),
            activity={"progress": progress},
        )
    )
    b.add(
        _agreement(
            b,
            truus,
            plan,
            goals[body],
            body,
            "Hulp bij douchen en steunkousen",
            p["nurse"],
            _timing(3, "wk"),
        )
    )
    b.add(
        _agreement(
            b,
            truus,
            plan,
            goals[body],
            body,
            "Dagelijks de oefeningen van de fysiotherapeut",
            truus,
            _timing(1, "d"),
        )
    )
    b.add(
        _agreement(
            b,
            truus,
            plan,
            goals["wonen"],
            "wonen",
            "Boodschappen doen voor Truus en Henk",
            p["neighbour"],
            _timing(1, "wk"),
            author=_ref(p["nurse"]),
            detail={
                "description": "Lijstje samen met Truus maken; zware dingen niet laten tillen."
            },
        )
    )
    b.add(
        _agreement(
            b,
            truus,
            plan,
            goals[mind],
            mind,
            "Meegaan naar afspraken in het ziekenhuis",
            p["daughter"],
            None,
            author=_ref(p["gp"]),
            detail={"description": "Vragen vooraf opschrijven; na afloop de huisarts informeren."},
        )
    )
    b.add(
        _agreement(
            b, truus, plan, goals["wonen"], "wonen", "Aanvraag traplift (Wmo)", p["wmo"], None
        )
    )
    b.add(
        _agreement(
            b,
            truus,
            plan,
            goals["participatie"],
            "participatie",
            "Samen zoeken naar vervoer naar de koffieochtend",
            p["support"],
            None,
        )
    )
    hospital_agreement = b.add(
        _agreement(
            b,
            truus,
            plan,
            goals[body],
            body,
            "Controle orthopedie na zes weken",
            p["surgeon"],
            None,
            identifier=[{"system": HOSPITAL_EHR, "value": "AFS-2024-00187"}],
        )
    )
    b.add(
        {
            "resourceType": "Provenance",
            "target": [_ref(hospital_agreement)],
            "recorded": f"{b.day(-40)}T09:00:00+01:00",
            "activity": {"text": "Overgenomen uit het EPD van Ziekenhuis Rijnstad"},
            "agent": [{"who": _ref(p["surgeon"])}],
            "entity": [
                {
                    "role": "source",
                    "what": {"identifier": {"system": HOSPITAL_EHR, "value": "AFS-2024-00187"}},
                }
            ],
        }
    )
