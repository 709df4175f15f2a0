from django.urls import path

from ..evidence import api as evidence_api
from . import payments, views

urlpatterns = [
    path("cases/", views.CaseListCreateApi.as_view(), name="api-case-list"),
    path("cases/<uuid:case_id>/", views.CaseDetailApi.as_view(), name="api-case-detail"),
    path("cases/<uuid:case_id>/actions/<slug:action>/", views.CaseActionApi.as_view(), name="api-case-action"),
    path("cases/<uuid:case_id>/events/", views.CaseEventListApi.as_view(), name="api-case-events"),
    path("cases/<uuid:case_id>/jurisdiction/", views.CaseJurisdictionApi.as_view(), name="api-case-jurisdiction"),
    path("cases/<uuid:case_id>/evidence/", evidence_api.EvidenceListCreateApi.as_view(), name="api-evidence-list"),
    path(
        "cases/<uuid:case_id>/evidence/<uuid:evidence_id>/download/",
        evidence_api.EvidenceDownloadApi.as_view(),
        name="api-evidence-download",
    ),
    path("cases/<uuid:case_id>/export/", views.CaseExportApi.as_view(), name="api-case-export"),
    path("cases/<uuid:case_id>/payments/", payments.PaymentListApi.as_view(), name="api-payments"),
    path("cases/<uuid:case_id>/payments/refund/", payments.RefundApi.as_view(), name="api-payment-refund"),
    path("cases/<uuid:case_id>/payments/escrow/", payments.EscrowApi.as_view(), name="api-payment-escrow"),
    path("signing-keys/", views.SigningKeyListApi.as_view(), name="api-signing-keys"),
    path("jurisdiction/evaluate/", views.JurisdictionEvaluateApi.as_view(), name="api-jurisdiction-evaluate"),
]
