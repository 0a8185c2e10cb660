from django.contrib import admin
from django.http import HttpRequest

from .models import (
    Hearing,
    Notice,
    Poll,
    SelfGovernanceGroup,
    SocialOrganisation,
    Topic,
    TopicSettings,
    Volunteer,
    VolunteerTask,
)


class ReadOnly(admin.ModelAdmin):
    """Notices, polls and hearings change only through their actions (windows, rolls, tallies)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(ReadOnly):
    list_display = ("title", "kind", "state", "community", "published_at", "ends_at")
    list_filter = ("kind", "state")
    readonly_fields = ("published_at", "published_by", "ends_at")


@admin.register(Poll)
class PollAdmin(ReadOnly):
    list_display = ("title", "unit", "secret", "state", "closes_at")
    list_filter = ("state", "secret")


@admin.register(Hearing)
class HearingAdmin(ReadOnly):
    list_display = ("title", "kind", "state", "meeting_at", "place")
    list_filter = ("kind", "state")


@admin.register(SocialOrganisation)
class SocialOrganisationAdmin(admin.ModelAdmin):
    """The registry of social organisations is kept here (no invariants beyond the fields)."""

    list_display = ("name", "kind", "community", "contact_name", "active")
    list_filter = ("kind", "active", "community")
    search_fields = ("name", "services")


@admin.register(Volunteer)
class VolunteerAdmin(ReadOnly):
    list_display = ("resident", "grid", "max_distance_m", "consent_at")


@admin.register(VolunteerTask)
class VolunteerTaskAdmin(ReadOnly):
    list_display = ("skill", "household", "grid", "state", "hours", "confirmed_at")
    list_filter = ("state", "skill")


@admin.register(SelfGovernanceGroup)
class SelfGovernanceGroupAdmin(ReadOnly):
    list_display = ("name", "grid", "community", "created_at")


@admin.register(TopicSettings)
class TopicSettingsAdmin(admin.ModelAdmin):
    """Per community (empty: the district default): supporters a topic needs for the agenda."""

    list_display = ("community", "support_threshold")


@admin.register(Topic)
class TopicAdmin(ReadOnly):
    list_display = ("title", "grid", "state", "supporters", "threshold", "proposed_at")
    list_filter = ("state",)
