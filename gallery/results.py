"""What a page shows of a result, whatever kind of result an exhibition, review or study holds."""

from dataclasses import dataclass

from django.db.models.fields.files import FieldFile
from django.urls import reverse

from heritage.media import extension_of
from heritage.models import Motif


class ShownFile:
    """A stored file as a page shows it: `url` names a view that checks who asks, never the
    storage path (it would be derivable: original next to thumbnail, job ids, other sizes).

    Only exhibition works have such URLs here; review items and study candidates get theirs,
    blind, from their own views. Opening and naming go to the stored file.
    """

    def __init__(self, stored: FieldFile, slot, kind: str):
        self.stored = stored
        self._slot = slot
        self._kind = kind

    def __bool__(self) -> bool:
        return bool(self.stored)

    @property
    def name(self) -> str:
        return self.stored.name

    @property
    def storage(self):
        return self.stored.storage

    def open(self, mode: str = "rb"):
        return self.stored.open(mode)

    @property
    def url(self) -> str:
        from gallery.models import ExhibitionEntry

        if not isinstance(self._slot, ExhibitionEntry):
            raise ValueError(f"{type(self._slot).__name__} images have no public URL here")
        return work_file_url(self._slot, self._kind)


# The kinds of image a slot can show. A stylized image re-renders the whole photograph in a
# painting style: nothing in it is a reconstruction, and no page may present it as one.
RESTORATION = "restoration"
STYLIZED = "stylized"
ARTWORK = "artwork"  # a real painting, shown as a study candidate beside stylized images
# How curators' results name the real paintings of a study, in place of an engine.
REAL_PAINTING = "real painting"

# Visitors read what was done to the image, never by which engine: an expert who saw
# "CycleGAN" under a public image would know the engine of that image in a blind review.
SHOWN = {
    RESTORATION: "Digitally restored",
    STYLIZED: "Stylized by a model from a photograph",
    ARTWORK: "A real painting",
}


@dataclass(frozen=True)
class ResultImage:
    kind: str  # RESTORATION, STYLIZED, or ARTWORK (a real painting, study candidates only)
    engine: str  # never put this in front of an expert or a study participant; "" for ARTWORK
    motif: Motif  # restored or stylized motif; the painting itself for ARTWORK
    image: ShownFile  # full resolution
    preview: ShownFile  # at most 1600 px on the longest side
    # What the engine was given: the motif with its damage (simulated damage blacked out), or
    # the photograph that was stylized; the painting itself for ARTWORK.
    input_preview: ShownFile
    # Border of the reconstructed area at full resolution; None when every pixel is new.
    outline: ShownFile | None
    reconstructed: bool  # False for a result that reinterprets the whole image

    @property
    def shown(self) -> str:
        """What visitors are told this image is, without the engine."""
        return SHOWN[self.kind]

    @property
    def provenance(self) -> str:
        """What curators are told it is: with the engine, e.g. "Stylized by a model (cyclegan)
        from a photograph". Never for experts' or participants' pages."""
        if self.kind == STYLIZED:
            return f"Stylized by a model ({self.engine}) from a photograph"
        if self.kind == RESTORATION:
            return f"Digitally restored by {self.engine}"
        return "A real painting"

    @property
    def compared_as(self) -> str:
        """The name results group it under: its engine, or REAL_PAINTING for paintings."""
        return REAL_PAINTING if self.kind == ARTWORK else self.engine


def kind_of(restoration) -> str:
    """RESTORATION or STYLIZED, from the task of the job that made the result."""
    from restoration.models import Task

    return STYLIZED if restoration.task == Task.STYLIZE else RESTORATION


def result_of(slot) -> ResultImage:
    """The result an exhibition entry, review item or study candidate refers to."""
    artwork = getattr(slot, "artwork", None) if getattr(slot, "artwork_id", None) else None
    if artwork is not None:
        # A real painting is its own image; it has no input and was made by no engine.
        return ResultImage(
            kind=ARTWORK,
            engine="",
            motif=artwork,
            image=ShownFile(artwork.rgb_file, slot, "image"),
            preview=ShownFile(artwork.preview, slot, "after"),
            input_preview=ShownFile(artwork.preview, slot, "before"),
            outline=None,
            reconstructed=False,
        )
    restoration = slot.restoration
    if restoration is None:
        raise ValueError(f"{type(slot).__name__} {slot.pk} refers to no result")
    kind = kind_of(restoration)
    motif = restoration.job.motif
    if kind == STYLIZED:
        # The photograph as the engine was given it; its own preview if the job kept none.
        given = restoration.input_preview if restoration.input_preview else motif.preview
        return ResultImage(
            kind=STYLIZED,
            engine=restoration.engine,
            motif=motif,
            image=ShownFile(restoration.image, slot, "image"),
            preview=ShownFile(restoration.preview, slot, "after"),
            input_preview=ShownFile(given, slot, "before"),
            outline=None,
            reconstructed=False,
        )
    return ResultImage(
        kind=RESTORATION,
        engine=restoration.engine,
        motif=motif,
        image=ShownFile(restoration.image, slot, "image"),
        preview=ShownFile(restoration.preview, slot, "after"),
        input_preview=ShownFile(restoration.input_preview, slot, "before"),
        outline=ShownFile(restoration.outline, slot, "outline") if restoration.outline else None,
        reconstructed=True,
    )


# select_related paths that result_of needs, for the selectors that list slots.
RESULT_RELATED = ("restoration__job__motif", "restoration__job__motif__site")
# And for study candidates, which may be real paintings.
CANDIDATE_RELATED = (*RESULT_RELATED, "artwork", "artwork__site")

# What an exhibition work shows visitors, by the name in its URL. The full-resolution images
# have their own view (exhibition_work_full), which serves them without metadata.
WORK_KINDS = ("preview", "thumbnail", "after", "before", "outline")


def work_file_of(entry, kind: str) -> FieldFile | None:
    """The stored file behind one image of an exhibition work, or None if it shows no such one."""
    if kind == "preview":
        # The photograph's preview is shown only for a work shown as photographed.
        return None if entry.restoration_id else entry.motif.preview
    if kind == "thumbnail":
        return entry.motif.thumbnail
    if kind not in WORK_KINDS or not entry.restoration_id:
        return None
    result = result_of(entry)
    shown = {"after": result.preview, "before": result.input_preview, "outline": result.outline}
    file = shown[kind]
    return file.stored if file else None


def work_file_url(entry, kind: str) -> str:
    """URL of one image of an exhibition work: public once the exhibition is published."""
    file = work_file_of(entry, kind)
    if file is None:
        raise ValueError(f"Work {entry.pk} shows no {kind} image")
    return reverse("media:work", args=[entry.pk, kind, extension_of(file)])
