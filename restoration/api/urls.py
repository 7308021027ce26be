"""REST API of engines and jobs under /api/v1/."""

from restoration.api import engines, jobs

app_name = "restoration_api"

urlpatterns = [*engines.urlpatterns, *jobs.urlpatterns]
