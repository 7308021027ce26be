"""Heritage restoration: project wiring and the catalogue of motifs and damage."""

# The Celery app is loaded with Django so that @shared_task binds to it (broker from settings).
from heritage.celery import app as celery_app

__all__ = ["celery_app"]
