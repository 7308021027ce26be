"""REST API of engines, checkpoints, jobs and training runs under /api/v1/."""

from restoration.api import checkpoints, engines, jobs, training

app_name = "restoration_api"

urlpatterns = [
    *engines.urlpatterns,
    *checkpoints.urlpatterns,
    *jobs.urlpatterns,
    *training.urlpatterns,
]
