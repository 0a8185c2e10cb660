"""Limit/offset pagination with bounds, so no query string can overflow a bigint."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet, Subquery
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

from backend.audit.actions import do_record_read, seen

MAX_LIMIT = 200
MAX_OFFSET = 10_000_000


class BoundedLimitOffset(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(50, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)


class KeysFirstLimitOffset(BoundedLimitOffset):
    """Finds the page's primary keys on the narrow table (an index scan) before joining the
    rest, so a deep offset does not join and sort every row in front of it. With `rows`, the
    page is turned into plain dicts (cheaper to serialise than model instances)."""

    def __init__(self, rows: Callable[[QuerySet[Any]], list[Any]] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.rows = rows

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any
    ) -> Any:
        offset = pagination.offset
        limit: int = min(pagination.limit, self.max_limit)
        keys = queryset.values("pk")[offset : offset + limit]
        page = queryset.filter(pk__in=Subquery(keys))
        return {
            self.items_attribute: self.rows(page) if self.rows else page,
            "count": self._items_count(queryset),
        }


def _reader(request: HttpRequest) -> Any:
    return getattr(getattr(request, "auth", None), "user", None)


class _AuditsPage(LimitOffsetPagination):
    """Writes a loaded page of people's data to the audit trail as one row (who, which ids,
    from where): one INSERT, no extra query. Subclasses say which ids a page shows."""

    action: str
    target_type: str

    @abstractmethod
    def page_ids(self, items: list[Any]) -> list[int]:
        """The ids the audit row names for a page of `items`."""

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any
    ) -> Any:
        page = super().paginate_queryset(queryset, pagination, request, **params)
        items = list(page[self.items_attribute])
        reader = _reader(request)
        if reader is not None:
            do_record_read(
                actor=reader,
                action=self.action,
                target_type=self.target_type,
                target_ids=self.page_ids(items),
                request=request,
            )
        page[self.items_attribute] = items
        return page


class AuditedPage(_AuditsPage, BoundedLimitOffset):
    """A list page of people's data, audited. With `resident`, the row names the residents
    the page shows (`resident(item)` for each) instead of the items' own ids."""

    def __init__(
        self,
        *,
        action: str,
        target_type: str,
        resident: Callable[[Any], int | None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action, self.target_type, self.resident = action, target_type, resident

    def page_ids(self, items: list[Any]) -> list[int]:
        if self.resident:
            return seen(self.resident(i) for i in items)
        return [item.pk for item in items]


class AuditedKeysFirst(_AuditsPage, KeysFirstLimitOffset):
    """`KeysFirstLimitOffset` over people's data: the page's rows (dicts with `resident_id`)
    are written to the audit trail as one row naming the residents shown."""

    def __init__(self, *, action: str, target_type: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action, self.target_type = action, target_type

    def page_ids(self, items: list[Any]) -> list[int]:
        return seen(
            row["resident_id"] if isinstance(row, dict) else row.resident_id for row in items
        )
