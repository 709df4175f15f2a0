from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import MerchantOrganisation, User


@admin.register(MerchantOrganisation)
class MerchantOrganisationAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "country", "time_zone", "created_at"]
    list_filter = ["country"]
    search_fields = ["legal_name"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "role", "country", "time_zone", "language", "is_active"]
    list_filter = ["role", "is_active", "is_staff", "country"]
    search_fields = ["email", "display_name"]
    autocomplete_fields = ["organisation"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "role", "organisation", "country", "time_zone", "language")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "role", "country", "time_zone", "language", "password1", "password2"),
            },
        ),
    )
