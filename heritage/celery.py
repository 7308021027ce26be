"""Celery application: `celery -A heritage worker -Q gpu` runs restoration jobs (REDIS_URL set)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heritage.settings")

app = Celery("heritage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
