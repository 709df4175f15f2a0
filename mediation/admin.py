from django.contrib import admin

from .models import Appointment, NeutralProfile, Offer


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["case", "party", "amount", "currency", "remedy", "status", "created_at"]
    list_filter = ["status", "party"]
    raw_id_fields = ["case", "made_by"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NeutralProfile)
class NeutralProfileAdmin(admin.ModelAdmin):
    """The operator's roster: who mediates or arbitrates, in which languages and countries, how many at once."""

    list_display = ["user", "languages", "countries", "max_load", "active"]
    list_filter = ["active", "user__role"]
    search_fields = ["user__email", "user__display_name"]
    raw_id_fields = ["user"]


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["case", "neutral", "role", "automatic", "appointed_at", "challenge_until", "status"]
    list_filter = ["role", "status", "automatic"]
    raw_id_fields = ["case", "neutral"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Blind bids and chat messages are deliberately not in the admin: figures and private rooms stay with
# their parties.
