"""Stylized results made directly in the database, as a style job would leave them.

The style engines (CycleGAN, CUT) are tested on their own; gallery tests only need the rows
they produce: a job of task "stylize" without annotation, and a Restoration with an image, a
preview and the photograph's preview as input, and no outline.
"""

from django.core.files.base import ContentFile

from heritage.models import Motif
from restoration.models import Restoration, RestorationJob, Task
from tests import factories


def make_photograph(*, user, seed: int, title: str = "Photograph", **fields) -> Motif:
    """A motif of kind photograph (a landscape to stylize), 64 x 48."""
    motif = factories.make_motif(user=user, seed=seed, title=title, **fields)
    Motif.objects.filter(pk=motif.pk).update(kind=Motif.Kind.PHOTOGRAPH)
    motif.refresh_from_db()
    return motif


def make_painting(*, user, seed: int, title: str = "Painting", **fields) -> Motif:
    """A real painting: a motif of kind artwork (the default kind)."""
    return factories.make_motif(user=user, seed=seed, title=title, **fields)


def make_stylized(*, motif: Motif, user, engine: str = "cyclegan", seed: int = 0) -> Restoration:
    """A finished style transfer of the photograph by `engine` (its image a made-up colour)."""
    job = RestorationJob.objects.create(
        motif=motif,
        task=Task.STYLIZE,
        annotation=None,
        engine=engine,
        seed=seed,
        status=RestorationJob.Status.SUCCEEDED,
        requested_by=user,
        device="cpu",
    )
    colour = (40 + 30 * seed, 120, 110)
    restoration = Restoration(
        job=job,
        task=Task.STYLIZE,
        engine=engine,
        engine_version="test",
        params={},
        seed=seed,
        device="cpu",
        seconds=0.1,
    )
    size = (motif.width, motif.height)
    restoration.image.save(
        f"stylized-{job.pk}.png", ContentFile(factories.png_bytes(*size, color=colour)), save=False
    )
    restoration.preview.save(
        f"stylized-{job.pk}-preview.jpg",
        ContentFile(factories.jpeg_bytes(*size, color=colour)),
        save=False,
    )
    with motif.preview.open("rb") as handle:
        given = handle.read()
    restoration.input_preview.save(f"stylized-{job.pk}-input.jpg", ContentFile(given), save=False)
    restoration.save()
    return restoration
