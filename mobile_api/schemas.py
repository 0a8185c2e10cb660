"""Schemas every router shares: the one location input (with its datum) and a point out."""

from __future__ import annotations

from ninja import Schema
from pydantic import Field

from backend.core.geo import Datum, Fix


class FixIn(Schema):
    """A position as the phone read it. Phones on Chinese map SDKs read GCJ-02 (AMap, Tencent)
    or BD-09 (Baidu): say so in `datum`, and the server converts it to WGS-84 once."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100_000)
    datum: Datum = Field("wgs84", description="wgs84 (GPS), gcj02 (AMap, Tencent), bd09 (Baidu)")

    def fix(self) -> Fix:
        return Fix.reported(
            lat=self.lat, lon=self.lon, accuracy_m=self.accuracy_m, datum=self.datum
        )


class PointOut(Schema):
    lat: float
    lon: float
