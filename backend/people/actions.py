"""Writes to residents: validation of ID numbers, encryption at rest, care tags, contacts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction

from backend.core.errors import ApiError
from backend.territory.models import Household

from . import idnumbers
from .models import CareTag, EmergencyContact, LegalBasis, Resident, ResidentTag


@dataclass(frozen=True)
class ContactIn:
    name: str
    relation: str
    phone: str


def check_id_number(raw: str) -> str:
    value = idnumbers.normalise(raw)
    if not idnumbers.is_valid(value):
        raise ApiError("validation_error", status=422, fields={"id_number": "id_number_invalid"})
    return value


def check_care_tags(tags: Iterable[str]) -> list[str]:
    tags = list(dict.fromkeys(tags))
    if any(tag not in CareTag.values for tag in tags):
        raise ApiError("validation_error", status=422, fields={"care_tags": "care_tag_unknown"})
    return tags


def build_resident(
    *,
    household: Household,
    name: str,
    gender: str,
    birth_date: date,
    id_number: str,
    legal_basis: str,
    phone: str = "",
    health_notes: str = "",
    consent_recorded_at: datetime | None = None,
) -> Resident:
    """An unsaved, validated resident (bulk loaders save many at once)."""
    value = check_id_number(id_number)
    if legal_basis not in LegalBasis.values:
        raise ApiError("validation_error", status=422, fields={"legal_basis": "field_invalid"})
    return Resident(
        household=household,
        name=name,
        gender=gender,
        birth_date=birth_date,
        phone=phone,
        id_number=value,
        id_number_masked=idnumbers.mask(value),
        id_number_digest=idnumbers.digest(value),
        health_notes=health_notes,
        legal_basis=legal_basis,
        consent_recorded_at=consent_recorded_at,
    )


def do_create_resident(
    *,
    household: Household,
    name: str,
    gender: str,
    birth_date: date,
    id_number: str,
    legal_basis: str,
    tags: Iterable[str] = (),
    contacts: Iterable[ContactIn] = (),
    phone: str = "",
    health_notes: str = "",
    consent_recorded_at: datetime | None = None,
) -> Resident:
    resident = build_resident(
        household=household,
        name=name,
        gender=gender,
        birth_date=birth_date,
        id_number=id_number,
        legal_basis=legal_basis,
        phone=phone,
        health_notes=health_notes,
        consent_recorded_at=consent_recorded_at,
    )
    tag_codes = check_care_tags(tags)
    with transaction.atomic():
        if Resident.objects.filter(id_number_digest=resident.id_number_digest).exists():
            raise ApiError(
                "validation_error", status=422, fields={"id_number": "id_number_duplicate"}
            )
        resident.save()
        ResidentTag.objects.bulk_create(ResidentTag(resident=resident, tag=t) for t in tag_codes)
        EmergencyContact.objects.bulk_create(
            EmergencyContact(resident=resident, name=c.name, relation=c.relation, phone=c.phone)
            for c in contacts
        )
    return resident


# -- PIPL: a person's own data, and leaving ------------------------------------------------


def resident_export(resident: Resident) -> dict[str, object]:
    """Everything this app holds about `resident` (PIPL art. 45: a copy on request), in
    clear: the administrator who runs it hands the file to the person; the export is audited
    by the caller."""
    return {
        "id": resident.pk,
        "name": resident.name,
        "gender": resident.gender,
        "birth_date": resident.birth_date.isoformat(),
        "phone": resident.phone,
        "id_number": resident.id_number,
        "health_notes": resident.health_notes,
        "household": {"id": resident.household_id, "address": resident.household.address},
        "care_tags": sorted(t.tag for t in resident.tags.all()),
        "emergency_contacts": [
            {"name": c.name, "relation": c.relation, "phone": c.phone}
            for c in resident.emergency_contacts.order_by("pk")
        ],
        "legal_basis": resident.legal_basis,
        "consent_recorded_at": (
            resident.consent_recorded_at.isoformat() if resident.consent_recorded_at else None
        ),
        "consent_note": resident.consent_note,
    }


ANONYMOUS_NAME = "已注销居民"


def do_anonymise_resident(*, resident: Resident) -> Resident:
    """A resident who moved away or died (PIPL art. 47): name, ID number, phone, health notes,
    contacts and care tags go; the birth date keeps its year (age bands for statistics);
    the row stays, so alerts, cases and visits keep their non-personal facts (when, what
    kind, how fast, in which grid). Their own account, if any, is deactivated by the caller."""
    with transaction.atomic():
        resident = Resident.objects.select_for_update().get(pk=resident.pk)
        placeholder = f"anonymised:{resident.pk}"
        resident.name = f"{ANONYMOUS_NAME}{resident.pk}"
        resident.phone = ""
        resident.id_number = ""
        resident.id_number_masked = "*" * 18
        resident.id_number_digest = idnumbers.digest(placeholder)
        resident.health_notes = ""
        resident.birth_date = date(resident.birth_date.year, 1, 1)
        resident.consent_note = ""
        resident.save()
        resident.emergency_contacts.all().delete()
        resident.tags.all().delete()
    return resident
