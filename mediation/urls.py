from django.urls import path

from . import views

urlpatterns = [
    path("<uuid:case_id>/offers/", views.offer_create, name="offer-create"),
    path("<uuid:case_id>/offers/<int:offer_id>/accept/", views.offer_accept, name="offer-accept"),
    path("<uuid:case_id>/blind-bids/", views.blind_bid, name="blind-bid"),
    path("<uuid:case_id>/sessions/", views.session_schedule, name="session-schedule"),
    path("<uuid:case_id>/sessions/<int:session_id>/ics", views.session_ics, name="session-ics"),
    path("<uuid:case_id>/agreements/", views.agreement_draft, name="agreement-draft"),
    path("<uuid:case_id>/agreements/<int:agreement_id>/accept/", views.agreement_accept, name="agreement-accept"),
    path("<uuid:case_id>/messages/", views.message_post, name="message-post"),
]
