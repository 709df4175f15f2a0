from django.urls import path

from . import views
from .evidence import views as evidence_views

urlpatterns = [
    path("", views.case_list, name="case-list"),
    path("new/", views.case_file, name="case-file"),
    path("<uuid:case_id>/", views.case_detail, name="case-detail"),
    path("<uuid:case_id>/actions/<slug:action>/", views.case_action, name="case-action-web"),
    path("<uuid:case_id>/evidence/", evidence_views.evidence_upload, name="evidence-upload"),
    path(
        "<uuid:case_id>/evidence/<uuid:evidence_id>/download/",
        evidence_views.evidence_download,
        name="evidence-download",
    ),
    path("<uuid:case_id>/export/", evidence_views.case_export, name="case-export"),
]
