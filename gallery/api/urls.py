"""REST API of the gallery under /api/v1/: exhibitions, expert review, user studies."""

from gallery.api import exhibitions, review, studies

app_name = "gallery_api"

urlpatterns = [*exhibitions.urlpatterns, *review.urlpatterns, *studies.urlpatterns]
