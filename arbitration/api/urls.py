from django.urls import path

from . import views

urlpatterns = [
    path("cases/<uuid:case_id>/timetable/", views.TimetableApi.as_view(), name="api-timetable"),
    path("cases/<uuid:case_id>/submissions/", views.SubmissionsApi.as_view(), name="api-submissions"),
    path("cases/<uuid:case_id>/award/", views.AwardApi.as_view(), name="api-award"),
    path("cases/<uuid:case_id>/award.pdf", views.AwardPdfApi.as_view(), name="api-award-pdf"),
    path("cases/<uuid:case_id>/award/corrections/", views.AwardCorrectionsApi.as_view(), name="api-award-corrections"),
]
