from django.contrib import admin

from restoration.models import ModelCheckpoint, Restoration, RestorationJob


@admin.register(ModelCheckpoint)
class ModelCheckpointAdmin(admin.ModelAdmin):
    list_display = ("id", "engine", "name", "is_default", "short_sha256", "steps", "created_at")
    list_filter = ("engine", "is_default")
    search_fields = ("name", "sha256", "source", "notes")
    # Hashes, files and what the weights were made from are facts recorded at registration.
    readonly_fields = (
        "weights",
        "is_folder",
        "files",
        "source",
        "sha256",
        "size",
        "training_data",
        "steps",
        "losses",
        "metrics",
        "trained_by",
        "created_at",
    )

    @admin.display(description="sha256")
    def short_sha256(self, checkpoint: ModelCheckpoint) -> str:
        return checkpoint.sha256[:12]


@admin.register(RestorationJob)
class RestorationJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "motif",
        "task",
        "engine",
        "checkpoint",
        "status",
        "step",
        "total",
        "created_at",
    )
    list_filter = ("task", "status", "engine")
    readonly_fields = ("started_at", "heartbeat_at", "finished_at", "worker", "attempts")
    raw_id_fields = ("checkpoint",)


@admin.register(Restoration)
class RestorationAdmin(admin.ModelAdmin):
    list_display = ("id", "task", "engine", "engine_version", "device", "seconds", "created_at")
    list_filter = ("task", "engine")
