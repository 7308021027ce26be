"""REST API of the catalogue and the team under /api/v1/, with the API's root and documentation."""

from django.urls import path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from heritage.api import annotations, catalogue, root, team

app_name = "heritage_api"

urlpatterns = [
    path("", root.ApiRootApi.as_view(), name="root"),
    # Swagger UI and Redoc from the project's own static files (drf-spectacular-sidecar).
    path("docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="docs"),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="api_schema", template_name="api/redoc.html"),
        name="redoc",
    ),
    *catalogue.urlpatterns,
    *annotations.urlpatterns,
    *team.urlpatterns,
]
