"""Writes to exhibitions: their texts, their ordered works, publishing and unpublishing."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from gallery.cache import public_changed
from gallery.models import Exhibition, ExhibitionEntry
from gallery.results import result_of
from heritage.models import Motif, User
from restoration.models import Restoration

EXHIBITION_TEXT_FIELDS = ("title", "summary", "text", "credits", "licence")
_SLUG_MAX = Exhibition._meta.get_field("slug").max_length


def _require_curator(user: User | None) -> None:
    if user is None or not user.is_authenticated or not user.is_curator:
        raise PermissionDenied("Only curators can change exhibitions.")


def _changed() -> None:
    # After commit: a visitor loading the page between the write and the commit would
    # otherwise cache the old state again under the new generation.
    transaction.on_commit(public_changed)


def _unique_slug(base: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(base)[: _SLUG_MAX - 8].strip("-") or "exhibition"
    taken = set(
        Exhibition.objects.filter(slug__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def _clean_slug(slug: str, *, exclude_pk: int | None = None) -> str:
    """An explicit slug is kept as asked or refused: silently renaming it would break links."""
    cleaned = slugify(slug)[:_SLUG_MAX]
    if not cleaned:
        raise ValidationError("The web address needs letters or digits.", code="bad_slug")
    if Exhibition.objects.filter(slug=cleaned).exclude(pk=exclude_pk).exists():
        raise ValidationError(
            f'The web address "{cleaned}" is taken by another exhibition.', code="slug_taken"
        )
    return cleaned


def _set_texts(exhibition: Exhibition, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        setattr(exhibition, name, " ".join(value.split()) if name == "title" else value.strip())
    if not exhibition.title:
        raise ValidationError("An exhibition needs a title.", code="required")


def exhibition_create(
    *,
    created_by: User,
    title: str,
    slug: str | None = None,
    summary: str = "",
    text: str = "",
    credits: str = "",
    licence: str = "",
) -> Exhibition:
    """A draft exhibition; its slug comes from the title unless given.

    Raises PermissionDenied for non-curators, ValidationError for a missing title or a taken slug.
    """
    _require_curator(created_by)
    exhibition = Exhibition(created_by=created_by)
    _set_texts(
        exhibition,
        {"title": title, "summary": summary, "text": text, "credits": credits, "licence": licence},
    )
    exhibition.slug = _clean_slug(slug) if slug else _unique_slug(exhibition.title)
    exhibition.full_clean()
    exhibition.save()
    _changed()
    return exhibition


def exhibition_update(*, exhibition: Exhibition, user: User, **fields: str) -> Exhibition:
    """Change the texts (and optionally the slug). Raises PermissionDenied, ValidationError."""
    _require_curator(user)
    unknown = set(fields) - {*EXHIBITION_TEXT_FIELDS, "slug"}
    if unknown:
        raise ValidationError(f"Unknown exhibition fields: {', '.join(sorted(unknown))}")
    slug = fields.pop("slug", None)
    _set_texts(exhibition, fields)
    if slug is not None and slug != exhibition.slug:
        exhibition.slug = _clean_slug(slug, exclude_pk=exhibition.pk)
    exhibition.full_clean()
    exhibition.save()
    _changed()
    return exhibition


def _check_restoration(*, motif: Motif, restoration: Restoration | None) -> None:
    if restoration is None:
        return
    shown = result_of(ExhibitionEntry(motif=motif, restoration=restoration))
    if shown.motif.pk != motif.pk:
        raise ValidationError(
            f'That restoration is of "{shown.motif.title}", not of "{motif.title}".',
            code="wrong_motif",
        )


def _locked(exhibition: Exhibition) -> Exhibition:
    # Positions are read then written: one writer at a time per exhibition.
    return Exhibition.objects.select_for_update().get(pk=exhibition.pk)


def exhibition_entry_add(
    *,
    exhibition: Exhibition,
    user: User,
    motif: Motif,
    restoration: Restoration | None = None,
    caption: str = "",
) -> ExhibitionEntry:
    """Append a work: the motif, shown restored by `restoration` or as photographed.

    Raises PermissionDenied, ValidationError when the restoration is of another motif.
    """
    _require_curator(user)
    _check_restoration(motif=motif, restoration=restoration)
    with transaction.atomic():
        _locked(exhibition)
        last = exhibition.entries.aggregate(last=Max("position"))["last"] or 0
        entry = ExhibitionEntry.objects.create(
            exhibition=exhibition,
            position=last + 1,
            motif=motif,
            restoration=restoration,
            caption=caption.strip(),
        )
    _changed()
    return entry


def exhibition_entry_update(
    *, entry: ExhibitionEntry, user: User, restoration: Restoration | None, caption: str
) -> ExhibitionEntry:
    """Choose another result (or none) and caption. Raises PermissionDenied, ValidationError."""
    _require_curator(user)
    _check_restoration(motif=entry.motif, restoration=restoration)
    entry.restoration = restoration
    entry.caption = caption.strip()
    entry.save(update_fields=["restoration", "caption"])
    _changed()
    return entry


def _renumber(exhibition: Exhibition) -> None:
    # Ascending order: each entry moves down into a slot already freed, so the unique
    # (exhibition, position) constraint holds after every single UPDATE.
    entries = exhibition.entries.order_by("position").values_list("pk", "position")
    for number, (pk, position) in enumerate(entries, start=1):
        if position != number:
            ExhibitionEntry.objects.filter(pk=pk).update(position=number)


def exhibition_entry_remove(*, entry: ExhibitionEntry, user: User) -> None:
    """Take a work out; the others close up to positions 1..n. Raises PermissionDenied."""
    _require_curator(user)
    with transaction.atomic():
        exhibition = _locked(entry.exhibition)
        entry.delete()
        _renumber(exhibition)
    _changed()


def exhibition_entry_move(*, entry: ExhibitionEntry, user: User, offset: int) -> ExhibitionEntry:
    """Swap a work with its neighbour before (-1) or after (+1).

    Raises PermissionDenied, ValidationError for another offset or a move past either end.
    """
    _require_curator(user)
    if offset not in (-1, 1):
        raise ValidationError("A work moves one place up or down.", code="bad_offset")
    with transaction.atomic():
        _locked(entry.exhibition)
        entry.refresh_from_db(fields=["position"])
        here = entry.position
        neighbour = ExhibitionEntry.objects.filter(
            exhibition_id=entry.exhibition_id, position=here + offset
        ).first()
        if neighbour is None:
            where = "first" if offset < 0 else "last"
            raise ValidationError(f"This work is already the {where}.", code="at_end")
        # Position 0 is never used, so it parks the entry while the neighbour takes its place.
        ExhibitionEntry.objects.filter(pk=entry.pk).update(position=0)
        ExhibitionEntry.objects.filter(pk=neighbour.pk).update(position=here)
        ExhibitionEntry.objects.filter(pk=entry.pk).update(position=here + offset)
    entry.position = here + offset
    _changed()
    return entry


def exhibition_publish(*, exhibition: Exhibition, user: User) -> Exhibition:
    """Show the exhibition to visitors. Raises PermissionDenied, ValidationError with no works."""
    _require_curator(user)
    if not exhibition.entries.exists():
        raise ValidationError("Add at least one work before publishing.", code="empty")
    exhibition.status = Exhibition.Status.PUBLISHED
    # The first publication date stays: unpublishing to fix a typo does not make it news.
    if exhibition.published_at is None:
        exhibition.published_at = timezone.now()
    exhibition.save(update_fields=["status", "published_at", "updated_at"])
    _changed()
    return exhibition


def exhibition_unpublish(*, exhibition: Exhibition, user: User) -> Exhibition:
    """Take the exhibition back to draft; visitors get 404. Raises PermissionDenied."""
    _require_curator(user)
    exhibition.status = Exhibition.Status.DRAFT
    exhibition.save(update_fields=["status", "updated_at"])
    _changed()
    return exhibition
