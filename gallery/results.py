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


@dataclass(frozen=True)
class ResultImage:
    kind: str  # "restoration" (stylized images join when style transfer lands)
    engine: str  # never put this in front of an expert or a study participant
    motif: Motif
    image: ShownFile  # full resolution
    preview: ShownFile  # at most 1600 px on the longest side
    input_preview: ShownFile  # what the engine was given (simulated damage blacked out)
    # Border of the reconstructed area at full resolution; None when every pixel is new.
    outline: ShownFile | None
    reconstructed: bool  # False for a result that reinterprets the whole image


def result_of(slot) -> ResultImage:
    """The result an exhibition entry, review item or study candidate refers to."""
    restoration = slot.restoration
    if restoration is None:
        raise ValueError(f"{type(slot).__name__} {slot.pk} refers to no result")
    return ResultImage(
        kind="restoration",
        engine=restoration.engine,
        motif=restoration.job.motif,
        image=ShownFile(restoration.image, slot, "image"),
        preview=ShownFile(restoration.preview, slot, "after"),
        input_preview=ShownFile(restoration.input_preview, slot, "before"),
        outline=ShownFile(restoration.outline, slot, "outline") if restoration.outline else None,
        reconstructed=True,
    )


# select_related paths that result_of needs, for the selectors that list slots.
RESULT_RELATED = ("restoration__job__motif", "restoration__job__motif__site")

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
