import json
from typing import Any

from django.http import HttpRequest
from ninja import Router

from backend.territory.models import Grid
from backend.territory.selectors import get_grid, grids_for
from mobile_api.errors import responses
from mobile_api.security import caller_scope

from .schemas import GridCollection, GridFeature

router = Router(tags=["territory"])


def _feature(grid: Grid) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": grid.pk,
        "geometry": json.loads(grid.boundary.geojson),
        "properties": {
            "id": grid.pk,
            "code": grid.code,
            "name": grid.name,
            "community_id": grid.community_id,
            "community_name": grid.community.name,
        },
    }


@router.get("", response=responses({200: GridCollection}, 401))
def my_grids(request: HttpRequest) -> dict[str, Any]:
    """The caller's grids as a GeoJSON FeatureCollection (WGS 84)."""
    grids = grids_for(caller_scope(request))
    return {"type": "FeatureCollection", "features": [_feature(g) for g in grids]}


@router.get("/{grid_id}", response=responses({200: GridFeature}, 401, 404, 422))
def grid_detail(request: HttpRequest, grid_id: int) -> dict[str, Any]:
    return _feature(get_grid(caller_scope(request), grid_id))
