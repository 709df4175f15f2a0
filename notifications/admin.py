from django.contrib import admin

from odr.admin import ReadOnlyAdmin

from .models import Delivery, Notification, WebhookEndpoint


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Operators watch failing and dead-lettered deliveries here."""

    list_display = ["id", "channel", "status", "attempts", "next_attempt_at", "last_error", "created_at"]
    list_filter = ["status", "channel"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "type", "case", "alert", "created_at", "read_at"]
    list_filter = ["type"]
    raw_id_fields = ["user", "case", "event", "alert"]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["organisation", "url", "active", "created_at"]
    exclude = ["secret"]

    def has_add_permission(self, request):
        return False  # registered by the merchant (the API), who is shown the secret once
