# Registered model checkpoints; jobs point to one by foreign key instead of holding a path;
# results keep the engine's `info`.
#
# The old `RestorationJob.checkpoint` held a path. Each distinct (engine, path) becomes a
# ModelCheckpoint whose `source` is that path (nothing is copied: the file may be gone), with
# the sha256 its results recorded, or the file's hash if it is still there.

import hashlib
from pathlib import Path

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Q


def _sha256(path: str) -> str:
    try:
        digest = hashlib.sha256()
        with Path(path).open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return ""


def paths_to_checkpoints(apps, schema_editor):
    Job = apps.get_model("restoration", "RestorationJob")
    Checkpoint = apps.get_model("restoration", "ModelCheckpoint")
    Restoration = apps.get_model("restoration", "Restoration")
    made = {}
    for job in Job.objects.exclude(checkpoint_path="").order_by("pk"):
        key = (job.engine, job.checkpoint_path)
        if key not in made:
            recorded = (
                Restoration.objects.filter(
                    job__engine=job.engine, job__checkpoint_path=job.checkpoint_path
                )
                .exclude(checkpoint_sha256="")
                .values_list("checkpoint_sha256", flat=True)
                .first()
            )
            name = Path(job.checkpoint_path).name or job.checkpoint_path
            taken = Checkpoint.objects.filter(engine=job.engine, name__startswith=name).count()
            made[key] = Checkpoint.objects.create(
                engine=job.engine,
                name=f"{name} ({taken + 1})" if taken else name,
                source=job.checkpoint_path,
                is_folder=Path(job.checkpoint_path).is_dir(),
                sha256=recorded or _sha256(job.checkpoint_path),
                notes="Made by migration 0004 from the path that jobs named before checkpoints "
                "were registered.",
            )
        job.checkpoint = made[key]
        job.save(update_fields=["checkpoint"])


def checkpoints_to_paths(apps, schema_editor):
    Job = apps.get_model("restoration", "RestorationJob")
    for job in Job.objects.exclude(checkpoint=None).select_related("checkpoint"):
        job.checkpoint_path = job.checkpoint.source or job.checkpoint.weights
        job.save(update_fields=["checkpoint_path"])


class Migration(migrations.Migration):
    # PostgreSQL refuses to alter a table whose rows were just updated in the same transaction
    # while deferred foreign-key checks are pending; the data step has its own transaction.
    atomic = False

    dependencies = [
        ("restoration", "0003_job_dispatch"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("engine", models.CharField(db_index=True, max_length=64)),
                ("name", models.CharField(max_length=200)),
                (
                    "weights",
                    models.CharField(
                        blank=True,
                        help_text="Name in storage: the file, or the folder prefix",
                        max_length=500,
                    ),
                ),
                ("is_folder", models.BooleanField(default=False)),
                ("files", models.JSONField(blank=True, default=list)),
                (
                    "source",
                    models.CharField(
                        blank=True,
                        help_text="Local path or Hugging Face model id, not copied",
                        max_length=500,
                    ),
                ),
                ("sha256", models.CharField(blank=True, max_length=64)),
                ("size", models.BigIntegerField(default=0, help_text="Bytes")),
                (
                    "config",
                    models.JSONField(
                        blank=True, default=dict, help_text="Architecture configuration"
                    ),
                ),
                ("training_data", models.JSONField(blank=True, default=dict)),
                ("steps", models.PositiveIntegerField(blank=True, null=True)),
                ("losses", models.JSONField(blank=True, default=dict)),
                ("metrics", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("notes", models.TextField(blank=True)),
                ("is_default", models.BooleanField(default=False)),
                (
                    "trained_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["engine", "-is_default", "-created_at", "-id"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=Q(is_default=True),
                        fields=("engine",),
                        name="one_default_checkpoint_per_engine",
                    ),
                    models.UniqueConstraint(
                        fields=("engine", "name"), name="unique_checkpoint_name"
                    ),
                    models.CheckConstraint(
                        condition=~Q(weights="") | ~Q(source=""), name="checkpoint_has_weights"
                    ),
                ],
            },
        ),
        migrations.RenameField(
            model_name="restorationjob", old_name="checkpoint", new_name="checkpoint_path"
        ),
        migrations.AddField(
            model_name="restorationjob",
            name="checkpoint",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="jobs",
                to="restoration.modelcheckpoint",
            ),
        ),
        migrations.RunPython(paths_to_checkpoints, checkpoints_to_paths, atomic=True),
        migrations.RemoveField(model_name="restorationjob", name="checkpoint_path"),
        migrations.AddField(
            model_name="restoration",
            name="info",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
