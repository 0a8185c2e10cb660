from __future__ import annotations

from datetime import datetime

from ninja import Schema

from backend.core.personal import age_on
from backend.people.models import Resident
from backend.territory.models import Household


class Point(Schema):
    lat: float
    lon: float


class GridRef(Schema):
    id: int
    code: str
    name: str


class ResidentSummary(Schema):
    id: int
    name: str
    gender: str
    age: int
    id_number_masked: str
    care_tags: list[str]
    household_id: int

    @staticmethod
    def resolve_age(obj: Resident) -> int:
        return age_on(obj.birth_date)

    @staticmethod
    def resolve_care_tags(obj: Resident) -> list[str]:
        return sorted(t.tag for t in obj.tags.all())


class HouseholdOut(Schema):
    id: int
    address: str
    grid: GridRef
    location: Point

    @staticmethod
    def resolve_location(obj: Household) -> dict[str, float]:
        return {"lat": obj.location.y, "lon": obj.location.x}


class HouseholdDetail(HouseholdOut):
    building: str | None
    residents: list[ResidentSummary]

    @staticmethod
    def resolve_building(obj: Household) -> str | None:
        return obj.building.name if obj.building else None


class EmergencyContactOut(Schema):
    name: str
    relation: str
    phone: str


class ResidentDetail(ResidentSummary):
    """No birth date: the ID number's mask hides exactly its eight birth-date digits, so the
    two together would be the whole number (the age, from the summary, is served instead)."""

    phone: str
    household: HouseholdOut
    emergency_contacts: list[EmergencyContactOut]
    health_notes: str
    legal_basis: str
    consent_recorded_at: datetime | None
