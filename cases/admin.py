"""Admin for cases (read-only status: only services move a case) and the event log (read-only)."""

from django.contrib import admin

from odr.admin import ReadOnlyAdmin

from .models import Case, CaseEvent, Deadline, IdempotencyKey, ReferenceCounter, StageDuration


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    fields = ["seq", "type", "actor", "actor_role", "at", "hash"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["reference", "status", "category", "consumer", "merchant", "created_at"]
    list_filter = ["status", "category", "consumer_country", "merchant_country"]
    search_fields = ["reference", "order_reference"]
    readonly_fields = ["reference", "status", "jurisdiction", "outcome", "open_offer_party", "filed_at", "closed_at"]
    raw_id_fields = ["consumer", "merchant", "mediator", "arbitrator"]
    inlines = [CaseEventInline]

    def has_add_permission(self, request):
        # Cases are filed and moved only through the services (API and pages); the admin reads them.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["case", "seq", "type", "actor_role", "at"]
    list_filter = ["type", "actor_role"]
    search_fields = ["case__reference"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["user", "key", "case", "created_at"]
    raw_id_fields = ["user", "case"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReferenceCounter)
class ReferenceCounterAdmin(admin.ModelAdmin):
    list_display = ["year", "last"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Deadline)
class DeadlineAdmin(ReadOnlyAdmin):
    """Deadlines are started, met and fired by the services and the sweep; the admin reads them."""

    list_display = ["case", "kind", "party", "due_at", "status"]
    list_filter = ["status", "kind"]
    search_fields = ["case__reference"]


@admin.register(StageDuration)
class StageDurationAdmin(admin.ModelAdmin):
    """The operator sets each stage's length here; new clocks use it, running ones keep their time."""

    list_display = ["kind", "business_days"]
