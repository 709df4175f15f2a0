from django.urls import path

from . import views

urlpatterns = [
    path("", views.case_list, name="case-list"),
    path("new/", views.case_file, name="case-file"),
    path("<uuid:case_id>/", views.case_detail, name="case-detail"),
    path("<uuid:case_id>/actions/<slug:action>/", views.case_action, name="case-action-web"),
]
