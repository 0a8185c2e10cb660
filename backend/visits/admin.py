from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.people.models import CareTag

from .actions import derive_due_visits
from .models import Visit, VisitFinding, VisitRule, VisitSettings, VisitTask


class VisitRuleForm(forms.ModelForm):
    tags = forms.MultipleChoiceField(
        choices=CareTag.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="none ticked: every household",
    )

    class Meta:
        model = VisitRule
        fields = ("community", "name", "tags", "match", "interval_days", "active")

    def clean_interval_days(self) -> int:
        days = int(self.cleaned_data["interval_days"])
        if not 1 <= days <= 3660:
            raise forms.ValidationError("1 to 3660 days")
        return days


@admin.register(VisitRule)
class VisitRuleAdmin(admin.ModelAdmin):
    """How often each kind of household is visited, per community. A community without rules
    uses the district defaults (no community), else the built-in ones: living alone and 80+
    weekly, disabled or low income monthly, every household yearly."""

    form = VisitRuleForm
    list_display = ("name", "community", "tags", "match", "interval_days", "active")
    list_filter = ("community", "active")
    actions = ("derive_now",)

    @admin.action(description="Derive due visits now (the daily job; safe to repeat)")
    def derive_now(self, request: HttpRequest, queryset: QuerySet[VisitRule]) -> None:
        communities = {r.community_id for r in queryset}
        totals = derive_due_visits(
            community_ids=None if None in communities else [c for c in communities if c]
        )
        messages.info(request, ", ".join(f"{k} {v}" for k, v in totals.items()))


@admin.register(VisitSettings)
class VisitSettingsAdmin(admin.ModelAdmin):
    """The check-in fence per community: radius + the phone's accuracy, capped."""

    list_display = ("community", "checkin_radius_m", "max_accuracy_m")


@admin.register(VisitTask)
class VisitTaskAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "household", "grid", "state", "due_at", "attempts")
    list_filter = ("state", "kind", "community")
    raw_id_fields = ("household", "grid", "community", "done_by_visit")
    date_hierarchy = "due_at"


class FindingInline(admin.TabularInline):
    model = VisitFinding
    extra = 0
    can_delete = False
    readonly_fields = ("category", "description", "action", "follow_up_task", "case_state")
    exclude = ("case_ref",)


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = (
        "client_uuid",
        "household",
        "worker",
        "visited_at",
        "state",
        "flag",
        "distance_m",
    )
    list_filter = ("state", "flag", "community", "post")
    date_hierarchy = "visited_at"
    raw_id_fields = ("worker", "household", "grid", "community", "task")
    exclude = ("location",)
    inlines = (FindingInline,)

    # Records come from phones; the admin reads them.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
