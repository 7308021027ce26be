"""Builders of test data: small noisy images and motifs stored through the services."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

from heritage import services
from heritage.models import Motif, User


def png_bytes(width: int = 64, height: int = 48, *, color=(150, 110, 70), seed: int = 0) -> bytes:
    """PNG of a noisy RGB image; a different seed gives different bytes (and sha256)."""
    return image_bytes(width, height, color=color, seed=seed, format="PNG")


def jpeg_bytes(width: int = 64, height: int = 48, *, color=(150, 110, 70), seed: int = 0) -> bytes:
    """JPEG of a noisy RGB image; a different seed gives different bytes (and sha256)."""
    return image_bytes(width, height, color=color, seed=seed, format="JPEG")


def image_bytes(width: int, height: int, *, color, seed: int, format: str) -> bytes:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-40, 41, size=(height, width, 3))
    pixels = np.clip(np.asarray(color, dtype=np.int64) + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=format)
    return buffer.getvalue()


def make_user(username: str, *, role: str = "", password: str = "pw-for-tests", **extra) -> User:
    return User.objects.create_user(username=username, password=password, role=role, **extra)


def make_motif(
    *,
    user: User,
    site_name: str = "Test site",
    width: int = 64,
    height: int = 48,
    seed: int = 0,
    title: str = "Test motif",
    **fields: str,
) -> Motif:
    """A motif stored through services.motif_create (files land in MEDIA_ROOT)."""
    site = services.site_get_or_create(name=site_name)
    return services.motif_create(
        uploaded_by=user,
        file=io.BytesIO(png_bytes(width, height, seed=seed)),
        filename=f"motif-{seed}.png",
        site=site,
        title=title,
        **fields,
    )


def mask_png_bytes(mask: np.ndarray) -> bytes:
    """Single-channel PNG of a uint8 mask (255 damaged, 0 intact), as a curator would upload."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(mask, dtype=np.uint8), "L").save(buffer, format="PNG")
    return buffer.getvalue()


def block_mask(motif: Motif, *, top: int = 4, left: int = 4, size: int = 8) -> np.ndarray:
    """A mask of the motif's size with one damaged square."""
    mask = np.zeros((motif.height, motif.width), dtype=np.uint8)
    mask[top : top + size, left : left + size] = 255
    return mask


def make_annotation(*, motif: Motif, user: User, mask: np.ndarray | None = None, **fields):
    """A drawn damage annotation stored through services.annotation_create."""
    fields.setdefault("method", "drawn")
    return services.annotation_create(
        motif=motif, author=user, mask=block_mask(motif) if mask is None else mask, **fields
    )


def files_under(root) -> list[str]:
    """Relative paths of every file (not folder) under a directory, sorted."""
    root = Path(root)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def make_demo_motif(
    *, user: User, width: int = 96, height: int = 64, seed: int = 0, title: str = "Demo motif"
) -> Motif:
    """An intact generated rock-art motif (textured, so engines have something to copy)."""
    from heritage import demo, imaging

    artwork = demo.rock_art(seed=seed, width=width, height=height, damaged=False)
    return services.motif_create(
        uploaded_by=user,
        file=io.BytesIO(imaging.encode_png(artwork.image)),
        filename=f"demo-{seed}.png",
        site=services.site_get_or_create(name="Huashan test cliff"),
        title=title,
    )


def make_restoration(*, annotation, user: User, engine: str = "telea", seed: int = 0):
    """A finished restoration of the annotation, run in-process with the named engine."""
    from restoration import services as restoration_services

    job = restoration_services.job_create(
        requested_by=user, annotation=annotation, engine=engine, seed=seed, queue=False
    )
    restoration_services.job_run(job_id=job.pk)
    job.refresh_from_db()
    if job.status != job.Status.SUCCEEDED:
        raise AssertionError(f"the {engine} job ended {job.status}: {job.error}")
    return job.result
