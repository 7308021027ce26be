"""URLs of the restoration pages."""

from django.urls import path

from restoration import views

app_name = "restoration"

urlpatterns = [
    path("motifs/<int:pk>/restore/", views.job_create, name="job_create"),
    path("motifs/<int:pk>/damage/<int:annotation_pk>/compare/", views.compare, name="compare"),
    path("restoration/jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("restoration/jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("restoration/jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
]
