"""The district edits its schemes here. A scheme used by a period is frozen (read-only); the
"new version" action copies it to edit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.core.errors import ApiError, message

from . import actions
from .indicators import CODE_CHOICES
from .models import (
    Appeal,
    FollowUp,
    Indicator,
    IndicatorGroup,
    LeaderScore,
    Period,
    ProcessStep,
    Scheme,
)


def _editable(obj: Any) -> bool:
    scheme = obj if isinstance(obj, Scheme) else getattr(obj, "scheme", None)
    if isinstance(obj, Indicator):
        scheme = obj.group.scheme
    return scheme is None or not scheme.frozen


class IndicatorForm(forms.ModelForm):
    code = forms.ChoiceField(choices=CODE_CHOICES)

    class Meta:
        model = Indicator
        fields = ["code", "weight", "formula", "target", "floor", "year_only"]


class IndicatorInline(admin.TabularInline):
    model = Indicator
    form = IndicatorForm
    extra = 0

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _editable(obj)

    has_add_permission = has_delete_permission = has_change_permission


class GroupInline(admin.TabularInline):
    model = IndicatorGroup
    extra = 0
    show_change_link = True

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _editable(obj)

    has_add_permission = has_delete_permission = has_change_permission


@admin.register(Scheme)
class SchemeAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "applies_to", "district", "frozen"]
    list_filter = ["applies_to", "frozen"]
    inlines = [GroupInline]
    actions = ["new_version"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and _editable(obj)

    @admin.action(description="复制为新版本 copy as a new version")
    def new_version(self, request: HttpRequest, queryset: QuerySet[Scheme]) -> None:
        for scheme in queryset:
            copy = actions.do_new_version(scheme=scheme)
            self.message_user(request, f"{copy} created", messages.SUCCESS)


@admin.register(IndicatorGroup)
class IndicatorGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "scheme", "weight"]
    inlines = [IndicatorInline]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and _editable(obj)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Period)
class PeriodAdmin(ReadOnly):
    """The process, as actions run by the logged-in district administrator (recorded as the
    actor of each step); a refusal is shown and changes nothing."""

    list_display = ["scheme", "year", "quarter", "state", "computed_at", "signed_off_at"]
    actions = ["recompute", "to_self_review", "to_scoring", "publish", "freeze"]

    def _each(self, request: HttpRequest, queryset: QuerySet[Period], step: Any) -> None:
        for period in queryset:
            try:
                step(period.pk, request.user)
            except ApiError as exc:
                self.message_user(request, f"{period}: {message(exc.code)}", messages.ERROR)
            else:
                self.message_user(request, f"{period}: done", messages.SUCCESS)

    @admin.action(description="重新计算 recompute the draft")
    def recompute(self, request: HttpRequest, queryset: QuerySet[Period]) -> None:
        self._each(request, queryset, lambda p, u: actions.do_compute_period(period_id=p, by=u))

    @admin.action(description="进入自评 open self-review")
    def to_self_review(self, request: HttpRequest, queryset: QuerySet[Period]) -> None:
        self._each(
            request, queryset, lambda p, u: actions.do_advance(period_id=p, by=u, to="self_review")
        )

    @admin.action(description="进入评分 start scoring")
    def to_scoring(self, request: HttpRequest, queryset: QuerySet[Period]) -> None:
        self._each(
            request, queryset, lambda p, u: actions.do_advance(period_id=p, by=u, to="scoring")
        )

    @admin.action(description="公示 7 天 publish for 7 days")
    def publish(self, request: HttpRequest, queryset: QuerySet[Period]) -> None:
        self._each(
            request, queryset, lambda p, u: actions.do_advance(period_id=p, by=u, to="publish")
        )

    @admin.action(description="归档签发 freeze and sign off")
    def freeze(self, request: HttpRequest, queryset: QuerySet[Period]) -> None:
        self._each(request, queryset, lambda p, u: actions.do_freeze(period_id=p, by=u))


@admin.register(ProcessStep)
class ProcessStepAdmin(ReadOnly):
    list_display = ["period", "scorecard", "kind", "actor", "at"]


@admin.register(Appeal)
class AppealAdmin(ReadOnly):
    list_display = ["scorecard", "by", "at", "decision", "decided_by"]


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnly):
    list_display = ["source", "source_ref", "channel", "state", "score", "asked_at"]
    list_filter = ["source", "channel", "state"]


class LeaderScoreForm(forms.ModelForm):
    """The leader's score entered through the action (its checks, its process step); a refusal
    is the form's error and nothing is saved."""

    replaces = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="更改时填写所替换的版本号 the version a change replaces",
    )
    request: HttpRequest

    class Meta:
        model = LeaderScore
        fields = ["scorecard", "score", "reason"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self.made = actions.do_leader_score(
                user=self.request.user,  # type: ignore[arg-type]
                card_id=data["scorecard"].pk,
                score=data["score"],
                reason=data["reason"],
                replaces=data.get("replaces"),
            )
        except ApiError as exc:
            raise forms.ValidationError(message(exc.code), code=exc.code) from exc
        return data


@admin.register(LeaderScore)
class LeaderScoreAdmin(admin.ModelAdmin):
    """领导评价: every version of every card's leader score (read-only once entered); "add"
    enters one for a card in scoring, or a change naming the version it replaces."""

    list_display = ["scorecard", "version", "score", "reason", "by", "at"]
    raw_id_fields = ["scorecard"]
    form = LeaderScoreForm

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:  # fmt: skip
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})  # per request, not shared

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.pk, obj.version, obj.by, obj.at = (
            form.made.pk,
            form.made.version,
            form.made.by,
            form.made.at,
        )
