"""Restoration jobs and their results, with the provenance needed to reproduce them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from heritage.models import DamageAnnotation, Motif


class ModelCheckpoint(models.Model):
    """One set of weights of an engine: where they are, their hash, how they were made.

    Weights live either in storage under `weights` (the file's name, or a folder's prefix:
    every file of a folder such as a diffusers model is stored under it, listed in `files`),
    or outside it in `source` (a local path an operator registered without copying, or a
    Hugging Face model id that diffusers loads where the machine is online). `sha256` is
    computed once at registration: of the file, or over a folder's files (see
    restoration.checkpoints.folder_sha256); empty for a Hugging Face id, which is not hashed.
    """

    engine = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=200)
    weights = models.CharField(
        max_length=500, blank=True, help_text="Name in storage: the file, or the folder prefix"
    )
    is_folder = models.BooleanField(default=False)
    # [{"path": "unet/config.json", "sha256": "...", "size": 123}], relative to `weights`.
    files = models.JSONField(default=list, blank=True)
    source = models.CharField(
        max_length=500, blank=True, help_text="Local path or Hugging Face model id, not copied"
    )
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(default=0, help_text="Bytes")
    config = models.JSONField(default=dict, blank=True, help_text="Architecture configuration")
    # {"files": [{"path", "sha256", "licence"}...], ...}: what the weights were trained on.
    training_data = models.JSONField(default=dict, blank=True)
    steps = models.PositiveIntegerField(null=True, blank=True)
    losses = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    notes = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["engine", "-is_default", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["engine"],
                condition=Q(is_default=True),
                name="one_default_checkpoint_per_engine",
            ),
            models.UniqueConstraint(fields=["engine", "name"], name="unique_checkpoint_name"),
            models.CheckConstraint(
                condition=~Q(weights="") | ~Q(source=""), name="checkpoint_has_weights"
            ),
        ]

    def __str__(self) -> str:
        short = f" ({self.sha256[:12]})" if self.sha256 else ""
        return f"{self.engine}: {self.name}{short}"


class Task(models.TextChoices):
    """What a job does with its motif: the `task` of its engine (restoration.engines.base)."""

    RESTORE = "restore", "Restoration"
    STYLIZE = "stylize", "Style transfer"


class RestorationJob(models.Model):
    """A restoration of a damage annotation, or (task "stylize") a style transfer of the
    whole motif: one job life cycle, one result model and one set of pages for both."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    motif = models.ForeignKey(Motif, on_delete=models.CASCADE, related_name="restoration_jobs")
    task = models.CharField(max_length=16, choices=Task.choices, default=Task.RESTORE)
    # A mask that jobs were run on is evidence: it cannot be deleted from under them. Style
    # transfers have none (the check constraint below).
    annotation = models.ForeignKey(
        DamageAnnotation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="restoration_jobs",
    )
    engine = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(default=0)
    colour_correction = models.BooleanField(default=False)
    # Weights the engine ran with; PROTECT: a checkpoint that jobs used is evidence.
    checkpoint = models.ForeignKey(
        ModelCheckpoint,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="jobs",
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    step = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    device = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Bumped with every progress update; a running job whose heartbeat stops is stale.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the job's message was last handed to the broker (None: never, e.g. broker down),
    # and how often: the sweep sends again a pending job whose message may be lost.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatches = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(task=Task.RESTORE, annotation__isnull=False)
                    | Q(task=Task.STYLIZE, annotation__isnull=True)
                ),
                name="job_annotation_for_restorations_only",
            )
        ]

    def __str__(self) -> str:
        return f"Job {self.pk}: {self.engine} on {self.motif}"

    def get_absolute_url(self) -> str:
        return reverse("restoration:job_detail", args=[self.pk])

    @property
    def websocket_path(self) -> str:
        return f"/ws/restoration/jobs/{self.pk}/"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


class Restoration(models.Model):
    job = models.OneToOneField(RestorationJob, on_delete=models.CASCADE, related_name="result")
    image = models.FileField(upload_to="restorations/%Y/%m/", max_length=500)
    preview = models.FileField(upload_to="restorations/%Y/%m/", max_length=500)
    # What the engine was given, as a preview: the motif, with simulated damage blacked out.
    input_preview = models.FileField(upload_to="restorations/%Y/%m/", max_length=500)
    # Transparent PNG tracing the reconstructed area, for the "what was restored" overlay;
    # empty for a style transfer (every pixel is new).
    outline = models.FileField(upload_to="restorations/%Y/%m/", max_length=500, blank=True)
    task = models.CharField(max_length=16, choices=Task.choices, default=Task.RESTORE)
    engine = models.CharField(max_length=64)
    engine_version = models.CharField(max_length=64)
    checkpoint_sha256 = models.CharField(max_length=64, blank=True)
    # What the engine says reproduces the result (scheduler, steps, model id, versions).
    info = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict)
    seed = models.BigIntegerField()
    colour_correction = models.BooleanField(default=False)
    device = models.CharField(max_length=64)
    seconds = models.FloatField()
    # Against the motif itself when the damage was simulated (ground truth known), else empty.
    metrics = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.engine} restoration of {self.job.motif}"


class TrainingRun(models.Model):
    """Training of a learned engine on curator-chosen motifs, run as a job on queue `train`.

    Its life cycle fields are RestorationJob's (restoration.lifecycle works on both). The
    weights are written to a folder of its own under HERITAGE_TRAINING_DIR (`output`), which
    holds the optimiser state a resumed run continues from; on success they are registered as
    `checkpoint`.
    """

    Status = RestorationJob.Status
    FINISHED = RestorationJob.FINISHED

    engine = models.CharField(max_length=64)
    motifs = models.ManyToManyField(Motif, related_name="training_runs")
    # Cleaned options: size, steps, batch, lr, seed, sample_every, architecture.
    options = models.JSONField(default=dict)
    # The run this one continues (its optimiser state, step count and loss curve).
    resumed_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resumptions"
    )
    checkpoint = models.ForeignKey(
        ModelCheckpoint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="training_runs",
    )
    # Folder of this run's weights and training state, relative to HERITAGE_TRAINING_DIR.
    output = models.CharField(max_length=300, blank=True)
    # [[step, mean loss since the previous point], ...], at most about LOSS_POINTS points.
    losses = models.JSONField(default=list, blank=True)
    latest_sample = models.FileField(
        upload_to="training/samples/%Y/%m/", max_length=500, blank=True
    )
    sample_step = models.PositiveIntegerField(default=0)
    # The motifs' images and what was left out of them, as exported for training.
    data_manifest = models.JSONField(default=dict, blank=True)

    status = models.CharField(
        max_length=16, choices=RestorationJob.Status.choices, default=RestorationJob.Status.PENDING
    )
    step = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    device = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatches = models.PositiveIntegerField(default=0)

    LOSS_POINTS = 1000

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Training run {self.pk}: {self.engine}"

    def get_absolute_url(self) -> str:
        return reverse("restoration:training_detail", args=[self.pk])

    @property
    def websocket_path(self) -> str:
        return f"/ws/restoration/training/{self.pk}/"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0
