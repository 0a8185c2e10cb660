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
    """The ID number is shown masked in the list, which shows no birth date; the change form,
    which edits the birth date, does not show the mask (together they are the whole number).
    The number is entered through the action that validates it."""

    list_display = ("name", "id_number_masked", "household", "legal_basis")
    search_fields = ("name",)
    list_filter = ("legal_basis", "tags__tag")
    raw_id_fields = ("household",)
    exclude = ("id_number", "id_number_digest", "id_number_masked", "health_notes")
    inlines = (ResidentTagInline, EmergencyContactInline)
