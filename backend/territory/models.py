"""Territory: district → community → grid → building → household, and service points."""

from __future__ import annotations

from django.contrib.gis.db import models


class District(models.Model):
    """A district (区), e.g. Tongguanshan; it serves its communities directly."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Community(models.Model):
    """A community (社区): about 20 grids after the reform."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="communities")
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    # The duty line the emergency contacts' SMS gives (settings.DUTY_PHONE when empty).
    duty_phone = models.CharField(max_length=20, blank=True, default="", db_default="")

    class Meta:
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name


class Grid(models.Model):
    """A grid (网格): about 300 households in the care of one grid manager."""

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="grids")
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    boundary = models.MultiPolygonField(srid=4326, spatial_index=True)

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    """A building (楼栋) or courtyard: the unit a worker walks to."""

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="buildings")
    name = models.CharField(max_length=200)
    location = models.PointField(srid=4326, spatial_index=True)

    def __str__(self) -> str:
        return self.name


class Household(models.Model):
    """A household (户) at one address; `grid` is kept with `building.grid` for fast scoping."""

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="households")
    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="households", null=True, blank=True
    )
    address = models.CharField(max_length=300)
    location = models.PointField(srid=4326, spatial_index=True)
    # A fixed line (座机): the call-back after an emergency rings it when the resident has no
    # phone of their own.
    fixed_phone = models.CharField(max_length=20, blank=True, default="", db_default="")
    external_ref = models.CharField(max_length=64, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.address


class ServicePoint(models.Model):
    """A service point (服务点) where residents can bring a matter in person."""

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="service_points"
    )
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300)
    location = models.PointField(srid=4326)
    opening_hours = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.name
