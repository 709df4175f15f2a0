from django.urls import path

from . import views

urlpatterns = [
    path("auth/register/", views.RegisterApi.as_view(), name="api-auth-register"),
    path("auth/token/", views.TokenApi.as_view(), name="api-auth-token"),
    path("me/", views.MeApi.as_view(), name="api-me"),
    path("merchants/", views.MerchantListApi.as_view(), name="api-merchant-list"),
    path("neutrals/", views.NeutralCreateApi.as_view(), name="api-neutral-create"),
]
