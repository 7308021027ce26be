"""Catalogue models: people and roles, sites, motifs and their damage annotations."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse


class User(AbstractUser):
    class Role(models.TextChoices):
        CURATOR = "curator", "Curator"
        EXPERT = "expert", "Expert"

    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    # A curator who may invite people, change roles and deactivate accounts on the Team page.
    manages_team = models.BooleanField(default=False)

    @property
    def is_curator(self) -> bool:
        return self.is_active and (self.role == self.Role.CURATOR or self.is_superuser)

    @property
    def is_expert(self) -> bool:
        return self.is_active and self.role == self.Role.EXPERT

    @property
    def is_team_manager(self) -> bool:
        return self.is_active and (
            self.is_superuser or (self.role == self.Role.CURATOR and self.manages_team)
        )


class Site(models.Model):
    name = models.CharField(max_length=200, unique=True)
    region = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _original_path(instance: "Motif", filename: str) -> str:
    return f"motifs/originals/{instance.sha256[:2]}/{instance.sha256}/{filename}"


def _derived_path(instance: "Motif", filename: str) -> str:
    return f"motifs/derived/{instance.sha256[:2]}/{instance.sha256}/{filename}"


class Motif(models.Model):
    class Kind(models.TextChoices):
        # A damaged (or intact) work to restore: mural, rock art, painting.
        ARTWORK = "artwork", "Artwork"
        # A photograph (a landscape, say) to render in a style with a style-transfer engine.
        PHOTOGRAPH = "photograph", "Photograph"

    class Format(models.TextChoices):
        JPEG = "JPEG", "JPEG"
        PNG = "PNG", "PNG"
        TIFF = "TIFF", "TIFF"
        WEBP = "WEBP", "WebP"

    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ARTWORK)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="motifs")
    location = models.CharField("location detail", max_length=300, blank=True)
    era = models.CharField("era / dynasty", max_length=200, blank=True)
    style = models.CharField(max_length=200, blank=True)
    medium = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    credit = models.CharField(max_length=500, blank=True)
    licence = models.CharField(max_length=300, blank=True)

    # The uploaded bytes, stored untouched; everything the app shows is derived from them.
    original = models.FileField(upload_to=_original_path, max_length=500)
    original_filename = models.CharField(max_length=255)
    original_format = models.CharField(max_length=8, choices=Format.choices)
    original_mode = models.CharField(max_length=16)
    sha256 = models.CharField(max_length=64, unique=True, editable=False)
    file_size = models.PositiveBigIntegerField()
    # Size after EXIF orientation: the size of masks and of every engine input.
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Lossless RGB rendering of the original, kept only when the original needed conversion
    # (rotation, CMYK, 16-bit, palette, alpha) or is not a browser format (TIFF).
    working = models.FileField(upload_to=_derived_path, max_length=500, blank=True)
    conversions = models.JSONField(default=list, blank=True)
    preview = models.FileField(upload_to=_derived_path, max_length=500)
    thumbnail = models.FileField(upload_to=_derived_path, max_length=500)

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["era"]), models.Index(fields=["style"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("heritage:motif_detail", args=[self.pk])

    @property
    def rgb_file(self):
        """The RGB image engines and the editor work on: the working copy, else the original."""
        return self.working if self.working else self.original

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


class DamageKind(models.TextChoices):
    CRACK = "crack", "Crack"
    FLAKING = "flaking", "Flaking / peeling"
    LOSS = "loss", "Loss"
    FADING = "fading", "Fading"
    STAIN = "stain", "Stain"
    SALT = "salt", "Salt / mould (dust)"
    OTHER = "other", "Other"


# Longest damage-annotation note (characters): a condition note, not a document.
NOTES_MAX_LENGTH = 2000


class DamageAnnotation(models.Model):
    class Method(models.TextChoices):
        DRAWN = "drawn", "Drawn"
        IMPORTED = "imported", "Imported"
        SEGMENTED = "segmented", "Click-segmented"
        SIMULATED = "simulated", "Simulated"

    class Protocol(models.TextChoices):
        DUST = "dust", "Dust-like"
        JELLY = "jelly", "Jelly-like"
        BLOCKS = "blocks", "Block patches"

    motif = models.ForeignKey(Motif, on_delete=models.CASCADE, related_name="annotations")
    # Single-channel PNG of the motif's size: 255 damaged, 0 intact.
    mask = models.FileField(upload_to="annotations/%Y/%m/", max_length=500)
    kinds = models.JSONField(default=list, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices)
    protocol = models.CharField(max_length=16, choices=Protocol.choices, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    coverage = models.FloatField(help_text="Share of the motif's pixels marked damaged")
    # At most NOTES_MAX_LENGTH characters, checked by heritage.services.annotation_create.
    notes = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Saving from the editor never overwrites a mask: it makes a new revision of the old one.
    supersedes = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(method="simulated", seed__isnull=False) & ~models.Q(protocol="")
                | ~models.Q(method="simulated"),
                name="simulated_annotation_has_protocol_and_seed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} damage on {self.motif}"

    @property
    def is_simulated(self) -> bool:
        return self.method == self.Method.SIMULATED

    def kind_labels(self) -> list[str]:
        return [DamageKind(kind).label for kind in self.kinds if kind in DamageKind.values]


class ApiToken(models.Model):
    """A personal API token (`Authorization: Token KEY`): named, one of several, revocable.

    Only the key's sha256 is stored: the key is shown once, when it is made, and a leaked
    database holds nothing that signs in. `prefix` (its first characters) tells tokens apart.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Invitation(models.Model):
    """An invitation to join as expert or curator: a single-use link that expires.

    The account is made when the invitee sets a password through the link. Only the link
    key's sha256 is stored; the link is shown (and mailed) when it is made.
    """

    username = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=16, choices=User.Role.choices)
    manages_team = models.BooleanField(default=False)
    key_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitation",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.username} ({self.role})"
