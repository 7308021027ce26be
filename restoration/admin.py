from django.contrib import admin

from restoration.models import Restoration, RestorationJob


@admin.register(RestorationJob)
class RestorationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "motif", "engine", "status", "step", "total", "created_at")
    list_filter = ("status", "engine")
    readonly_fields = ("started_at", "heartbeat_at", "finished_at", "worker", "attempts")


@admin.register(Restoration)
class RestorationAdmin(admin.ModelAdmin):
    list_display = ("id", "engine", "engine_version", "seconds", "created_at")
    list_filter = ("engine",)
