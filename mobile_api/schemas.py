"""Schemas every router shares: the one location input (with its datum) and a point out."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field, PrivateAttr, model_validator

from backend.core.geo import Datum, Fix

DATUM_FIELD: Any = Field("wgs84", description="wgs84 (GPS), gcj02 (AMap, Tencent), bd09 (Baidu)")


class FixIn(Schema):
    """A position as the phone read it. Phones on Chinese map SDKs read GCJ-02 (AMap, Tencent)
    or BD-09 (Baidu): say so in `datum`, and the server converts it to WGS-84 once."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100_000)
    datum: Datum = DATUM_FIELD
    _fix: Fix | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _convert(self) -> FixIn:
        # A reading the datum cannot hold (a BD-09 point past the antimeridian) is bad input.
        try:
            self._fix = Fix.reported(
                lat=self.lat, lon=self.lon, accuracy_m=self.accuracy_m, datum=self.datum
            )
        except ValueError:
            raise ValueError("field_out_of_range") from None
        return self

    def fix(self) -> Fix:
        assert self._fix is not None  # set by the validator  # noqa: S101
        return self._fix


class PointOut(Schema):
    lat: float
    lon: float
