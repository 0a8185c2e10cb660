from typing import Any

from django.http import HttpRequest
from ninja import Router

from backend.core.api_errors import responses
from backend.territory.selectors import get_grid, grid_collection, grid_feature
from mobile_api.security import caller_scope

from .schemas import GridCollection, GridFeature

router = Router(tags=["territory"])


@router.get("", response=responses({200: GridCollection}, 401))
def my_grids(request: HttpRequest) -> dict[str, Any]:
    """The caller's grids as a GeoJSON FeatureCollection (WGS 84)."""
    return grid_collection(caller_scope(request))


@router.get("/{grid_id}", response=responses({200: GridFeature}, 401, 404, 422))
def grid_detail(request: HttpRequest, grid_id: int) -> dict[str, Any]:
    return grid_feature(get_grid(caller_scope(request), grid_id))
