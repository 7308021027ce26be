"""What a page shows of a result, whatever kind of result an exhibition, review or study holds."""

from dataclasses import dataclass

from django.db.models.fields.files import FieldFile

from heritage.models import Motif


@dataclass(frozen=True)
class ResultImage:
    kind: str  # "restoration" (stylized images join when style transfer lands)
    engine: str  # never put this in front of an expert or a study participant
    motif: Motif
    image: FieldFile  # full resolution
    preview: FieldFile  # at most 1600 px on the longest side
    input_preview: FieldFile  # what the engine was given (simulated damage blacked out)
    # Border of the reconstructed area at full resolution; None when every pixel is new.
    outline: FieldFile | None
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
        image=restoration.image,
        preview=restoration.preview,
        input_preview=restoration.input_preview,
        outline=restoration.outline or None,
        reconstructed=True,
    )


# select_related paths that result_of needs, for the selectors that list slots.
RESULT_RELATED = ("restoration__job__motif", "restoration__job__motif__site")
