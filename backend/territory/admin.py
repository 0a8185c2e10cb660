from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from .models import Building, Community, District, Grid, Household, ServicePoint


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "district")
    list_filter = ("district",)
    search_fields = ("code", "name")


@admin.register(Grid)
class GridAdmin(LeafletGeoAdmin):
    list_display = ("code", "name", "community")
    list_filter = ("community",)
    search_fields = ("code", "name")


@admin.register(Building)
class BuildingAdmin(LeafletGeoAdmin):
    list_display = ("name", "grid")
    list_filter = ("grid__community",)
    search_fields = ("name",)
    raw_id_fields = ("grid",)


@admin.register(Household)
class HouseholdAdmin(LeafletGeoAdmin):
    list_display = ("address", "grid")
    list_filter = ("grid__community",)
    search_fields = ("address",)
    raw_id_fields = ("grid", "building")


@admin.register(ServicePoint)
class ServicePointAdmin(LeafletGeoAdmin):
    list_display = ("name", "community", "address")
    list_filter = ("community",)
