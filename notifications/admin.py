from django.contrib import admin

from .models import Delivery, Notification, WebhookEndpoint


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Operators watch failing and dead-lettered deliveries here."""

    list_display = ["id", "channel", "status", "attempts", "next_attempt_at", "last_error", "created_at"]
    list_filter = ["status", "channel"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "type", "case", "created_at", "read_at"]
    list_filter = ["type"]
    raw_id_fields = ["user", "case", "event"]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["organisation", "url", "active", "created_at"]
    exclude = ["secret"]
