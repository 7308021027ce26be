"""Writes to the catalogue: sites, motif uploads and damage annotations."""

import io
import logging
import uuid
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from heritage import imaging, masks
from heritage.models import NOTES_MAX_LENGTH, DamageAnnotation, DamageKind, Motif, Site, User

logger = logging.getLogger(__name__)

MOTIF_TEXT_FIELDS = (
    "title",
    "location",
    "era",
    "style",
    "medium",
    "description",
    "credit",
    "licence",
)


class DuplicateMotif(ValidationError):
    """The uploaded bytes are already in the catalogue as `existing`."""

    def __init__(self, existing: Motif):
        self.existing = existing
        super().__init__(
            f'This file is already in the catalogue as "{existing.title}" (motif {existing.pk}).',
            code="duplicate",
        )


def _require_curator(user: User | None) -> None:
    if user is None or not user.is_curator:
        raise PermissionDenied("Only curators can change the catalogue.")


def site_get_or_create(*, name: str, region: str = "", description: str = "") -> Site:
    """The site called `name` (case-insensitive), created if new. Raises ValidationError."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("A site needs a name.", code="required")
    existing = Site.objects.filter(name__iexact=name).first()
    if existing is not None:
        return existing
    site = Site(name=name, region=region.strip(), description=description.strip())
    site.full_clean()
    site.save()
    return site


@dataclass
class _StoredFiles:
    """Files written during a service call, removed again if the transaction rolls back."""

    names: list

    def add(self, field_file) -> None:
        self.names.append((field_file.storage, field_file.name))

    def remove_all(self) -> None:
        for storage, name in self.names:
            try:
                storage.delete(name)
            except OSError:
                logger.exception("could not remove %s after a failed save", name)


@dataclass(frozen=True)
class CheckedImage:
    """An upload that passed motif_image_check: its size, sha256 and decoded image."""

    size: int
    sha256: str
    inspected: imaging.InspectedImage


def motif_image_check(*, file: BinaryIO) -> CheckedImage:
    """Every check of a new motif's image, without storing anything.

    Raises ValidationError (code "too_large" or "bad_image") or DuplicateMotif when the same
    bytes are catalogued. The upload form calls it, so a file's errors come with the metadata's.
    """
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    if size > settings.HERITAGE_MAX_UPLOAD_BYTES:
        limit_mb = settings.HERITAGE_MAX_UPLOAD_BYTES // (1024 * 1024)
        raise ValidationError(
            f"The file is {size / 1024 / 1024:.0f} MB; this installation accepts at most "
            f"{limit_mb} MB (HERITAGE_MAX_UPLOAD_MB).",
            code="too_large",
        )
    digest = imaging.sha256_of(file)
    _check_not_catalogued(digest)
    try:
        inspected = imaging.inspect(file, max_pixels=settings.HERITAGE_MAX_IMAGE_PIXELS)
    except imaging.ImageRejected as exc:
        raise ValidationError(str(exc), code="bad_image") from exc
    return CheckedImage(size=size, sha256=digest, inspected=inspected)


def _check_not_catalogued(digest: str) -> None:
    existing = Motif.objects.filter(sha256=digest).first()
    if existing is not None:
        raise DuplicateMotif(existing)


def motif_create(
    *,
    uploaded_by: User,
    file: BinaryIO,
    filename: str,
    site: Site,
    title: str,
    location: str = "",
    era: str = "",
    style: str = "",
    medium: str = "",
    description: str = "",
    credit: str = "",
    licence: str = "",
    kind: str = Motif.Kind.ARTWORK,
    checked: "CheckedImage | None" = None,
) -> Motif:
    """Add an image to the catalogue: original untouched, RGB working copy, preview, thumbnail.

    kind: "artwork" (a work to restore) or "photograph" (a photograph to render in a style).
    Raises PermissionDenied for non-curators, DuplicateMotif when the same bytes exist,
    ValidationError for bad metadata (an unknown kind included) or an image that cannot be
    accepted. Nothing is left behind (files or rows) when it raises. checked: what
    motif_image_check already said of this very file (the upload form checks it first), so a
    large image is not decoded twice; it is checked here when None.
    """
    _require_curator(uploaded_by)
    title = " ".join(title.split())
    if not title:
        raise ValidationError({"title": "A motif needs a title."})
    _check_kind(kind)
    if checked is None:
        checked = motif_image_check(file=file)
    else:
        _check_not_catalogued(checked.sha256)
    size, digest, inspected = checked.size, checked.sha256, checked.inspected

    motif = Motif(
        site=site,
        title=title,
        kind=kind,
        location=location.strip(),
        era=era.strip(),
        style=style.strip(),
        medium=medium.strip(),
        description=description.strip(),
        credit=credit.strip(),
        licence=licence.strip(),
        original_filename=_clean_filename(filename),
        original_format=inspected.format,
        original_mode=inspected.mode,
        sha256=digest,
        file_size=size,
        width=inspected.width,
        height=inspected.height,
        conversions=inspected.conversions,
        uploaded_by=uploaded_by,
    )
    motif.full_clean(exclude=["original", "preview", "thumbnail", "sha256"])

    stored = _StoredFiles([])
    try:
        with transaction.atomic():
            file.seek(0)
            extension = inspected.format.lower().replace("jpeg", "jpg")
            motif.original.save(f"original.{extension}", _read_all(file), save=False)
            stored.add(motif.original)
            if inspected.needs_working_copy:
                motif.working.save(
                    "working.png", ContentFile(imaging.encode_png(inspected.rgb)), save=False
                )
                stored.add(motif.working)
            _save_renderings(motif, inspected.rgb, stored)
            motif.save()
    except IntegrityError as exc:
        stored.remove_all()
        # Two uploads of the same bytes raced; the loser is told where the winner is.
        existing = Motif.objects.filter(sha256=digest).first()
        if existing is not None:
            raise DuplicateMotif(existing) from exc
        raise
    except BaseException:
        stored.remove_all()
        raise
    return motif


def _save_renderings(motif: Motif, rgb, stored: _StoredFiles) -> None:
    preview = imaging.encode_resized_jpeg(rgb, longest_side=settings.HERITAGE_PREVIEW_SIZE)
    motif.preview.save("preview.jpg", ContentFile(preview), save=False)
    stored.add(motif.preview)
    thumbnail = imaging.encode_resized_jpeg(
        rgb, longest_side=settings.HERITAGE_THUMBNAIL_SIZE, quality=80
    )
    motif.thumbnail.save("thumbnail.jpg", ContentFile(thumbnail), save=False)
    stored.add(motif.thumbnail)


def _read_all(file: BinaryIO) -> ContentFile:
    file.seek(0)
    return ContentFile(file.read())


def _clean_filename(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:255] or "upload"


def motif_update(
    *, motif: Motif, updated_by: User, site: Site, kind: str | None = None, **fields: str
) -> Motif:
    """Change a motif's metadata (never its image); kind None keeps its kind.

    Raises PermissionDenied, ValidationError (unknown fields, an unknown kind, bad values).
    """
    _require_curator(updated_by)
    unknown = set(fields) - set(MOTIF_TEXT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown motif fields: {', '.join(sorted(unknown))}")
    if kind is not None:
        _check_kind(kind)
        motif.kind = kind
    for name, value in fields.items():
        setattr(motif, name, " ".join(value.split()) if name == "title" else value.strip())
    motif.site = site
    motif.full_clean()
    motif.save()
    return motif


def _check_kind(kind: str) -> None:
    if kind not in Motif.Kind.values:
        raise ValidationError(
            {"kind": f"Unknown kind of motif {kind!r}; choose {' or '.join(Motif.Kind.values)}."}
        )


def _clean_kinds(kinds: list[str]) -> list[str]:
    unknown = [kind for kind in kinds if kind not in DamageKind.values]
    if unknown:
        raise ValidationError(
            f"Unknown damage kind(s): {', '.join(unknown)}. "
            f"Choose from: {', '.join(DamageKind.values)}."
        )
    # Keep the catalogue's order so equal sets compare equal.
    return [kind for kind in DamageKind.values if kind in kinds]


def annotation_create(
    *,
    motif: Motif,
    author: User | None,
    mask: np.ndarray,
    method: str,
    kinds: list[str] = (),
    notes: str = "",
    protocol: str = "",
    seed: int | None = None,
    supersedes: DamageAnnotation | None = None,
    allow_system: bool = False,
) -> DamageAnnotation:
    """Store a damage mask (uint8, motif's height x width, 255 damaged) as a new annotation.

    `supersedes` makes it a new revision of an earlier annotation of the same motif; the
    earlier mask stays stored. Raises PermissionDenied, ValidationError (wrong size, empty
    mask, unknown kinds or method, a simulated annotation without protocol and seed).
    """
    if not allow_system:
        _require_curator(author)
    if method not in DamageAnnotation.Method.values:
        raise ValidationError(f"Unknown annotation method {method!r}.")
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValidationError("A mask must be a single-channel 8-bit image.")
    if mask.shape != (motif.height, motif.width):
        raise ValidationError(
            f"The mask is {mask.shape[1]}x{mask.shape[0]} pixels but the motif is "
            f"{motif.width}x{motif.height}; a mask must have exactly the motif's size.",
            code="wrong_size",
        )
    coverage = masks.coverage(mask)
    if coverage == 0.0:
        raise ValidationError(
            "The mask marks no damage; mark at least one damaged pixel before saving.",
            code="empty",
        )
    notes = notes.strip()
    if len(notes) > NOTES_MAX_LENGTH:
        raise ValidationError(
            f"Notes may be at most {NOTES_MAX_LENGTH:,} characters (these have {len(notes):,}).",
            code="notes_too_long",
        )
    if method == DamageAnnotation.Method.SIMULATED:
        if protocol not in DamageAnnotation.Protocol.values or seed is None:
            raise ValidationError("A simulated annotation needs its protocol and seed.")
    else:
        protocol, seed = "", None
    if supersedes is not None:
        if supersedes.motif_id != motif.pk:
            raise ValidationError("An annotation can only be revised on its own motif.")
        if DamageAnnotation.objects.filter(supersedes=supersedes).exists():
            raise ValidationError(
                "This annotation was already revised; open its latest revision to edit it."
            )
    annotation = DamageAnnotation(
        motif=motif,
        author=author,
        kinds=_clean_kinds(list(kinds)),
        method=method,
        protocol=protocol,
        seed=seed,
        coverage=coverage,
        notes=notes,
        supersedes=supersedes,
    )
    stored = _StoredFiles([])
    try:
        with transaction.atomic():
            # Media files are served to whoever has the URL: a random name keeps the catalogue's
            # masks from being enumerated by visitors who may not browse it.
            annotation.mask.save(
                f"{uuid.uuid4().hex}-mask.png", ContentFile(masks.encode_png(mask)), save=False
            )
            stored.add(annotation.mask)
            annotation.save()
    except BaseException:
        stored.remove_all()
        raise
    return annotation


def annotation_simulate(
    *, motif: Motif, author: User, protocol: str, seed: int, kinds: list[str] = ()
) -> DamageAnnotation:
    """Add a simulated-damage annotation (dust, jelly or blocks) with its protocol and seed.

    Raises PermissionDenied, ValidationError for an unknown protocol.
    """
    _require_curator(author)
    try:
        mask = masks.simulate(protocol, width=motif.width, height=motif.height, seed=seed)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    default_kinds = {"dust": ["salt"], "jelly": ["loss"], "blocks": ["loss"]}[protocol]
    return annotation_create(
        motif=motif,
        author=author,
        mask=mask,
        method=DamageAnnotation.Method.SIMULATED,
        kinds=list(kinds) or default_kinds,
        protocol=protocol,
        seed=seed,
        notes=f"Simulated {protocol} damage, seed {seed}: ground truth is the motif itself.",
    )


def motif_read_rgb(*, motif: Motif) -> np.ndarray:
    """The motif as engines and the editor see it: uint8 (height, width, 3) RGB, upright."""
    from PIL import Image

    with motif.rgb_file.open("rb") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def annotation_read_mask(*, annotation: DamageAnnotation) -> np.ndarray:
    """The stored mask as a uint8 array of the motif's size."""
    with annotation.mask.open("rb") as handle:
        return masks.read_mask(
            handle.read(), width=annotation.motif.width, height=annotation.motif.height
        )
