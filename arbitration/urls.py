from django.urls import path

from . import views

urlpatterns = [
    path("<uuid:case_id>/submissions/", views.submission_file, name="submission-file"),
    path("<uuid:case_id>/timetable/", views.timetable_set, name="timetable-set"),
    path("<uuid:case_id>/award/corrections/", views.award_correct, name="award-correct"),
    path("<uuid:case_id>/award/<int:number>/<str:language>.pdf", views.award_pdf, name="award-pdf"),
    path("<uuid:case_id>/payments/<slug:kind>/", views.payment_start, name="payment-start"),
]
