"""Putting stylized images before the public: an exhibition work and an open style study.

For demo content and scripts (seed_gallery); curators do the same through the pages. Running it
again adds nothing: the exhibition keeps one work per stylized image, the study its slug.
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from gallery.models import STYLE_QUESTION, Exhibition, ExhibitionEntry, UserStudy
from gallery.results import STYLIZED, kind_of
from gallery.services import exhibitions, studies
from heritage.models import Motif, User
from restoration.models import Restoration

STYLE_STUDY_SLUG = "demo-blue-green-style"
STYLE_STUDY_TITLE = "Which image is most blue-green?"
STYLE_STUDY_DESCRIPTION = (
    "Photographs of landscapes were rendered by style-transfer models in the manner of the "
    "blue-green (qinglü) landscapes of Tang-dynasty Dunhuang murals. Each set shows several "
    "images, in a different order for everyone: choose the one that carries the style best."
)
STYLE_CAPTION = (
    "A photograph re-rendered by a style-transfer model in the manner of the Dunhuang "
    "blue-green landscape. Not a restoration and not a painting: every pixel is the model's."
)


def style_showcase(
    *,
    curator: User,
    stylized: Sequence[Restoration],
    paintings: Sequence[Motif] = (),
    exhibition: Exhibition | None = None,
    caption: str = STYLE_CAPTION,
    study_slug: str = STYLE_STUDY_SLUG,
    with_study: bool = True,
    open_study: bool = True,
) -> dict:
    """Exhibit the first stylized image and open a study of them all.

    - `exhibition` (optional): gains the first of `stylized` as a work of its photograph,
      unless it already shows that image;
    - if `with_study`, a study under `study_slug` (unless one exists): asks STYLE_QUESTION with one
      image set per photograph, its stylized images and every one of `paintings` (real
      paintings, motifs of kind artwork) as the candidates; open at once if `open_study`.
      Each photograph needs two candidates: a second engine's image, or a painting.

    Returns {"entry": the new ExhibitionEntry or None, "study": the new UserStudy or None}.
    Raises PermissionDenied for a non-curator, ValidationError when `stylized` is empty or
    holds a restoration, and whatever the exhibition and study services refuse; nothing is
    written then.
    """
    stylized = list(stylized)
    if not stylized:
        raise ValidationError("No stylized image to show.", code="required")
    if any(kind_of(result) != STYLIZED for result in stylized):
        raise ValidationError(
            "Only stylized images are shown here, not restorations.", code="not_stylized"
        )
    made: dict = {"entry": None, "study": None}
    with transaction.atomic():
        first = stylized[0]
        if (
            exhibition is not None
            and not ExhibitionEntry.objects.filter(
                exhibition=exhibition, restoration=first
            ).exists()
        ):
            made["entry"] = exhibitions.exhibition_entry_add(
                exhibition=exhibition,
                user=curator,
                motif=first.job.motif,
                restoration=first,
                caption=caption,
            )
        if with_study and not UserStudy.objects.filter(slug=study_slug).exists():
            made["study"] = studies.study_create(
                created_by=curator,
                title=STYLE_STUDY_TITLE,
                slug=study_slug,
                question=STYLE_QUESTION,
                description=STYLE_STUDY_DESCRIPTION,
                restorations=stylized,
                artworks=paintings,
                # The photograph would tell the stylized images from the paintings.
                show_input=not paintings,
                retire_after=200,
                attention_check=True,
                open_now=open_study,
            )
    return made
