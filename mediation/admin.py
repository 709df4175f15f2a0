from django.contrib import admin

from .models import Offer


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["case", "party", "amount", "currency", "remedy", "status", "created_at"]
    list_filter = ["status", "party"]
    raw_id_fields = ["case", "made_by"]

    def has_change_permission(self, request, obj=None):
        return False
