"""What a set of scopes lets an app do, in Dutch, for the consent screen."""

from __future__ import annotations

from dataclasses import dataclass

from .scopes import ScopeSet

_TYPE_NAMES = {
    "*": "al uw gegevens",
    "Patient": "uw persoonsgegevens",
    "RelatedPerson": "uw naasten en vertegenwoordigers",
    "CarePlan": "uw zorgleefplan",
    "Goal": "uw doelen",
    "CareTeam": "uw zorgteam",
    "Task": "uw taken en afspraken",
    "Condition": "uw aandoeningen",
    "Observation": "uw metingen en observaties",
    "Communication": "uw berichten",
    "Consent": "uw toestemmingen",
    "DocumentReference": "uw documenten",
}


@dataclass(frozen=True)
class Permission:
    subject: str
    read: bool
    write: bool
    delete: bool

    @property
    def actions(self) -> str:
        parts = [
            label
            for flag, label in (
                (self.read, "inzien"),
                (self.write, "toevoegen en wijzigen"),
                (self.delete, "verwijderen"),
            )
            if flag
        ]
        return ", ".join(parts)


def permissions(scopes: ScopeSet) -> list[Permission]:
    merged: dict[str, set[str]] = {}
    for grant in scopes.grants:
        merged.setdefault(grant.resource_type, set()).update(grant.interactions)
    return [
        Permission(
            subject=_TYPE_NAMES.get(resource_type, resource_type),
            read=bool(letters & {"r", "s"}),
            write=bool(letters & {"c", "u"}),
            delete="d" in letters,
        )
        for resource_type, letters in sorted(merged.items())
    ]
