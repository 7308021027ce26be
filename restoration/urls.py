"""URLs of the restoration pages."""

from django.urls import path

from restoration import views

app_name = "restoration"

urlpatterns = [
    path("motifs/<id:pk>/restore/", views.job_create, name="job_create"),
    path("motifs/<id:pk>/stylize/", views.style_create, name="style_create"),
    path("motifs/<id:pk>/damage/<id:annotation_pk>/compare/", views.compare, name="compare"),
    path("restoration/jobs/<id:pk>/", views.job_detail, name="job_detail"),
    path("restoration/jobs/<id:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("restoration/jobs/<id:pk>/retry/", views.job_retry, name="job_retry"),
    path("restoration/training/", views.training_list, name="training_list"),
    path("restoration/training/<id:pk>/", views.training_detail, name="training_detail"),
    path("restoration/training/<id:pk>/cancel/", views.training_cancel, name="training_cancel"),
    path("restoration/training/<id:pk>/resume/", views.training_resume, name="training_resume"),
    path("restoration/training/<id:pk>/sample.jpg", views.training_sample, name="training_sample"),
]
