"""REST API of engines, jobs and training runs under /api/v1/."""

from restoration.api import engines, jobs, training

app_name = "restoration_api"

urlpatterns = [*engines.urlpatterns, *jobs.urlpatterns, *training.urlpatterns]
