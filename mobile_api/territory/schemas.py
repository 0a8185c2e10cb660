from __future__ import annotations

from typing import Any, Literal

from ninja import Schema


class GridProperties(Schema):
    id: int
    code: str
    name: str
    community_id: int
    community_name: str


class GridFeature(Schema):
    type: Literal["Feature"] = "Feature"
    id: int
    geometry: dict[str, Any]
    properties: GridProperties


class GridCollection(Schema):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[GridFeature]
