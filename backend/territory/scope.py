"""Scope: the territory and people a user may see, and its one translation into query filters.

`backend.accounts.selectors.scope_for(user)` builds a Scope from the user's posts (an inactive
user gets `NOBODY`); every selector of every domain narrows its rows with `scope_filter`, naming
where its model keeps the grid, community, district and resident. Scope lives here, in the
lowest layer that knows what a grid is, so that territory and people can take it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q


@dataclass(frozen=True)
class Scope:
    """The territory and people a user may see. `everything` is the district administrator;
    `user_id` is None for nobody (an inactive or unknown user)."""

    user_id: int | None = None
    everything: bool = False
    district_id: int | None = None
    community_ids: frozenset[int] = frozenset()
    grid_ids: frozenset[int] = frozenset()
    # (community_id, care tags) pairs from A posts
    line_tags: tuple[tuple[int, tuple[str, ...]], ...] = ()
    resident_id: int | None = None
    household_id: int | None = None


NOBODY = Scope()
NOTHING = Q(pk__in=[])


def scope_filter(
    scope: Scope,
    *,
    grid: str,
    community: str,
    district: str,
    resident: str | None = None,
    household: str | None = None,
    tagged: Callable[[tuple[str, ...]], Q] | None = None,
    also: Q | None = None,
) -> Q:
    """Rows of a model in scope, given the paths to its grid id, community id, district id and
    (when it has them) resident and household ids.

    - A resident's own account sees only rows of their resident (or household, for a model
      without a resident path), nothing else.
    - Staff see rows in their district / community / B-post grids; with `tagged` (care tags ->
      a filter on the row's residents) also rows of their A-post communities whose residents
      carry the tags the line serves.
    - `also` adds rows the domain grants the user besides (an alert they were called to, a case
      they filed); nobody — an inactive user — gets nothing at all, grants included.
    """
    if scope.user_id is None:
        return NOTHING
    if scope.resident_id is not None or scope.household_id is not None:
        if resident is not None and scope.resident_id is not None:
            own = Q(**{resident: scope.resident_id})
        elif household is not None and scope.household_id is not None:
            own = Q(**{household: scope.household_id})
        else:
            own = NOTHING
        return own | also if also is not None else own
    if scope.everything:
        return Q()
    q = NOTHING
    if scope.district_id is not None:
        q |= Q(**{district: scope.district_id})
    if scope.community_ids:
        q |= Q(**{f"{community}__in": scope.community_ids})
    if scope.grid_ids:
        q |= Q(**{f"{grid}__in": scope.grid_ids})
    if tagged is not None:
        for community_id, tags in scope.line_tags:
            q |= Q(**{community: community_id}) & tagged(tags)
    if also is not None:
        q |= also
    return q
