"""Reads of exhibitions: what visitors may see, the works in order, filters and pickers."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet

from gallery.models import Exhibition, ExhibitionEntry
from gallery.results import RESULT_RELATED, STYLIZED, ResultImage, ShownFile, result_of
from heritage.models import Motif, Site, User
from restoration.models import Restoration, RestorationJob

ENTRY_RELATED = ("motif", "motif__site", *RESULT_RELATED)


def _motif_filter(prefix: str, *, site: int | None, era: str, style: str) -> Q:
    query = Q()
    if site is not None:
        query &= Q(**{f"{prefix}site_id": site})
    if era:
        query &= Q(**{f"{prefix}era": era})
    if style:
        query &= Q(**{f"{prefix}style": style})
    return query


def _with_cover(exhibitions: QuerySet[Exhibition]) -> QuerySet[Exhibition]:
    first = ExhibitionEntry.objects.select_related(*ENTRY_RELATED).order_by("position")[:1]
    return exhibitions.annotate(work_count=Count("entries")).prefetch_related(
        Prefetch("entries", queryset=first, to_attr="cover_entries")
    )


def exhibitions_published(
    *, site: int | None = None, era: str = "", style: str = ""
) -> QuerySet[Exhibition]:
    """Published exhibitions, newest first, holding at least one work of that site, era, style.

    Each has `work_count` and `cover_entries` (its first entry, or none).
    """
    exhibitions = Exhibition.objects.filter(status=Exhibition.Status.PUBLISHED)
    query = _motif_filter("motif__", site=site, era=era, style=style)
    if query:
        # A subquery rather than a join: one row per exhibition, however many works match.
        exhibitions = exhibitions.filter(
            pk__in=ExhibitionEntry.objects.filter(query).values("exhibition_id")
        )
    return _with_cover(exhibitions).order_by("-published_at", "-id")


def exhibitions_all() -> QuerySet[Exhibition]:
    """Every exhibition, drafts included, for curators; newest first."""
    return _with_cover(Exhibition.objects.select_related("created_by")).order_by(
        "-created_at", "-id"
    )


def exhibition_for_user(*, slug: str, user: User | None) -> Exhibition | None:
    """The exhibition if `user` may see it: published for anyone, drafts for curators only."""
    exhibition = Exhibition.objects.filter(slug=slug).first()
    if exhibition is None or exhibition.is_published:
        return exhibition
    if user is not None and user.is_authenticated and user.is_curator:
        return exhibition
    return None


def exhibition_entries(
    *, exhibition: Exhibition, site: int | None = None, era: str = "", style: str = ""
) -> QuerySet[ExhibitionEntry]:
    """The works of an exhibition in order, optionally only those of a site, era and style."""
    return (
        exhibition.entries.filter(_motif_filter("motif__", site=site, era=era, style=style))
        .select_related(*ENTRY_RELATED)
        .order_by("position")
    )


def exhibition_entry(*, exhibition: Exhibition, position: int) -> ExhibitionEntry | None:
    """One work by its position, or None."""
    return exhibition_entries(exhibition=exhibition).filter(position=position).first()


def exhibition_neighbours(
    *, exhibition: Exhibition, position: int
) -> tuple[int | None, int | None]:
    """Positions of the works before and after `position` (None at either end)."""
    entries = exhibition.entries
    before = entries.filter(position__lt=position).order_by("-position").first()
    after = entries.filter(position__gt=position).order_by("position").first()
    return (before.position if before else None, after.position if after else None)


def filter_choices(*, exhibition: Exhibition | None = None) -> dict[str, list]:
    """Sites, eras and styles of the works in published exhibitions (or in one), for filters."""
    if exhibition is None:
        entries = ExhibitionEntry.objects.filter(exhibition__status=Exhibition.Status.PUBLISHED)
    else:
        entries = exhibition.entries.all()
    shown = entries.values("motif_id")
    motifs = Motif.objects.filter(pk__in=shown)

    def distinct(field: str) -> list[str]:
        values = motifs.exclude(**{field: ""}).values_list(field, flat=True).distinct()
        return sorted(set(values), key=str.casefold)

    return {
        "sites": list(Site.objects.filter(motifs__in=motifs).distinct().order_by("name")),
        "eras": distinct("era"),
        "styles": distinct("style"),
    }


def _restorations() -> QuerySet[Restoration]:
    return (
        Restoration.objects.filter(job__status=RestorationJob.Status.SUCCEEDED)
        .select_related("job__motif")
        .order_by("-created_at", "-id")
    )


def restoration_choices_for_motif(*, motif: Motif) -> QuerySet[Restoration]:
    """Successful restorations of the motif, newest first, for the curator's picker."""
    return _restorations().filter(job__motif=motif)


def restoration_choices() -> QuerySet[Restoration]:
    """Every successful restoration, by motif title then newest, for the "add a work" picker."""
    return _restorations().order_by("job__motif__title", "job__motif_id", "-created_at", "-id")


@dataclass(frozen=True)
class Work:
    """What a page shows of one entry: never the engine, never the original file."""

    entry: ExhibitionEntry
    motif: Motif
    result: ResultImage | None
    image: ShownFile  # the result's preview, or the motif's preview when shown as photographed
    thumbnail: ShownFile  # the motif's thumbnail
    srcset: str
    alt: str

    @property
    def restored(self) -> bool:
        """Whether a result is shown (restored or stylized), not the photograph alone."""
        return self.result is not None

    @property
    def shown(self) -> str:
        """What visitors are told the image is: "Digitally restored", "Stylized by a model
        from a photograph" or "Shown as photographed"; never the engine."""
        return self.result.shown if self.result is not None else "Shown as photographed"

    @property
    def stylized(self) -> bool:
        return self.result is not None and self.result.kind == STYLIZED


def _fit(width: int, height: int, longest: int) -> int:
    """Width of an image of that size shrunk (never enlarged) to fit `longest` pixels."""
    scale = min(1.0, longest / max(width, height, 1))
    return max(1, round(width * scale))


def work_of(entry: ExhibitionEntry) -> Work:
    """The images and alt text of an entry, from its result if it has one."""
    motif = entry.motif
    result = result_of(entry) if entry.restoration_id else None
    preview_width = _fit(motif.width, motif.height, settings.HERITAGE_PREVIEW_SIZE)
    # Every image URL names a view that checks the exhibition is published (or the user a
    # curator): never a storage path a visitor could derive the original's from.
    thumbnail = ShownFile(motif.thumbnail, entry, "thumbnail")
    if result is not None:
        image = result.preview
        srcset = f"{result.preview.url} {preview_width}w"
        alt = f"{motif.title}, {result.shown.lower()}"
    else:
        image = ShownFile(motif.preview, entry, "preview")
        thumbnail_width = _fit(motif.width, motif.height, settings.HERITAGE_THUMBNAIL_SIZE)
        srcset = f"{thumbnail.url} {thumbnail_width}w, {image.url} {preview_width}w"
        alt = f"{motif.title}, as photographed"
    return Work(
        entry=entry,
        motif=motif,
        result=result,
        image=image,
        thumbnail=thumbnail,
        srcset=srcset,
        alt=alt,
    )


def exhibition_cover(*, exhibition: Exhibition) -> Work | None:
    """The first work of an exhibition listed by `exhibitions_published` or `exhibitions_all`."""
    entries = getattr(exhibition, "cover_entries", None)
    if entries is None:
        entries = list(exhibition_entries(exhibition=exhibition)[:1])
    return work_of(entries[0]) if entries else None
