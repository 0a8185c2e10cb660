"""People: residents in households, their care tags and emergency contacts.

ID numbers and health notes are sensitive personal information under PIPL: they are encrypted
at rest (Fernet, backend.core.fields), found by a keyed digest, shown masked, and held only on
a recorded legal basis.
"""

from __future__ import annotations

from django.db import models

from backend.core.fields import EncryptedTextField
from backend.territory.models import Household


class CareTag(models.TextChoices):
    AGED_60 = "aged_60", "60岁以上 aged 60+"
    AGED_80 = "aged_80", "80岁以上 aged 80+"
    LIVING_ALONE = "living_alone", "独居 living alone"
    DISABLED = "disabled", "残疾 disabled"
    LOW_INCOME = "low_income", "低保 low income"
    CHRONIC_ILLNESS = "chronic_illness", "慢性病 chronic illness"
    EMPTY_NEST = "empty_nest", "空巢 empty nest"
    VETERAN = "veteran", "优抚对象 veteran"


class LegalBasis(models.TextChoices):
    """PIPL art. 13 bases for holding sensitive data about a resident."""

    CONSENT = "consent", "个人同意 consent"
    STATUTORY_DUTY = "statutory_duty", "法定职责 statutory duty"
    VITAL_INTERESTS = "vital_interests", "保护生命健康 vital interests"


class Resident(models.Model):
    """A resident (居民) of one household."""

    class Gender(models.TextChoices):
        FEMALE = "F", "女"
        MALE = "M", "男"

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="residents")
    name = models.CharField(max_length=100, db_index=True)
    gender = models.CharField(max_length=1, choices=Gender.choices)
    birth_date = models.DateField()
    phone = models.CharField(max_length=20, blank=True)
    id_number = EncryptedTextField()
    id_number_masked = models.CharField(max_length=18)
    id_number_digest = models.CharField(max_length=64, unique=True)
    health_notes = EncryptedTextField(blank=True, default="")
    legal_basis = models.CharField(max_length=20, choices=LegalBasis.choices)
    consent_recorded_at = models.DateTimeField(null=True, blank=True)
    consent_note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        # Not the mask: admin pages that show the birth date use this as their title.
        return f"{self.name} (#{self.pk})"


class ResidentTag(models.Model):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=20, choices=CareTag.choices, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resident", "tag"], name="unique_resident_tag")
        ]

    def __str__(self) -> str:
        return self.tag


class EmergencyContact(models.Model):
    resident = models.ForeignKey(
        Resident, on_delete=models.CASCADE, related_name="emergency_contacts"
    )
    name = models.CharField(max_length=100)
    relation = models.CharField(max_length=50)
    phone = models.CharField(max_length=20)

    def __str__(self) -> str:
        return f"{self.name} ({self.relation})"
