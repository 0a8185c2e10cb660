from django import forms
from django.contrib import admin

from backend.people.models import CareTag

from .models import ReassuranceCall, ReassuranceRule


class ReassuranceRuleForm(forms.ModelForm):
    tags = forms.MultipleChoiceField(
        choices=CareTag.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="a resident must carry every tag ticked; none ticked: no tag needed",
    )

    class Meta:
        model = ReassuranceRule
        fields = ("community", "min_age", "tags", "weekday", "call_at", "active")


@admin.register(ReassuranceRule)
class ReassuranceRuleAdmin(admin.ModelAdmin):
    """Who gets the weekly reassurance call (关爱电话), per community: a community without a
    rule uses the district default (no community), else the built-in one: 80+ and living
    alone, Monday 10:00. Untick "active" to call nobody in a community."""

    form = ReassuranceRuleForm
    list_display = ("community", "min_age", "tags", "weekday", "call_at", "active")


@admin.register(ReassuranceCall)
class ReassuranceCallAdmin(admin.ModelAdmin):
    """The calls placed and what came of them: read only (the weekly job and the provider's
    callbacks write them)."""

    list_display = ("pk", "resident_id", "community", "week", "state", "outcome", "visit_task")
    list_filter = ("state", "week")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
