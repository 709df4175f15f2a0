from django.urls import path

from . import views

urlpatterns = [
    path("cases/<uuid:case_id>/offers/", views.OffersApi.as_view(), name="api-offers"),
    path("cases/<uuid:case_id>/offers/<int:offer_id>/accept/", views.OfferAcceptApi.as_view(), name="api-offer-accept"),
    path("cases/<uuid:case_id>/blind-bids/", views.BlindBidsApi.as_view(), name="api-blind-bids"),
    path("cases/<uuid:case_id>/messages/", views.MessagesApi.as_view(), name="api-messages"),
    path("cases/<uuid:case_id>/sessions/", views.SessionsApi.as_view(), name="api-sessions"),
    path("cases/<uuid:case_id>/sessions/<int:session_id>/ics", views.SessionIcsApi.as_view(), name="api-session-ics"),
    path("cases/<uuid:case_id>/agreements/", views.AgreementsApi.as_view(), name="api-agreements"),
    path(
        "cases/<uuid:case_id>/agreements/<int:agreement_id>/accept/",
        views.AgreementAcceptApi.as_view(),
        name="api-agreement-accept",
    ),
    path("ws-ticket/", views.WsTicketApi.as_view(), name="api-ws-ticket"),
]
