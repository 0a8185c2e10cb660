from django.contrib import admin

from .models import EmergencyContact, Resident, ResidentTag


class ResidentTagInline(admin.TabularInline):
    model = ResidentTag
    extra = 0


class EmergencyContactInline(admin.TabularInline):
    model = EmergencyContact
    extra = 0


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    """The ID number is shown masked; it is entered through the action that validates it."""

    list_display = ("name", "id_number_masked", "household", "legal_basis")
    search_fields = ("name",)
    list_filter = ("legal_basis", "tags__tag")
    raw_id_fields = ("household",)
    exclude = ("id_number", "id_number_digest", "health_notes")
    readonly_fields = ("id_number_masked",)
    inlines = (ResidentTagInline, EmergencyContactInline)
