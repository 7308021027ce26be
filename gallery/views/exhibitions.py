"""Exhibition pages: the public home, exhibitions and works; the curators' editing pages."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from gallery.cache import public_page
from gallery.forms.exhibitions import (
    EntryAddForm,
    EntryMoveForm,
    EntryUpdateForm,
    ExhibitionFilterForm,
    ExhibitionForm,
)
from gallery.models import Exhibition, ExhibitionEntry
from gallery.results import result_of
from gallery.selectors import exhibitions as selectors
from gallery.selectors import studies as study_selectors
from gallery.services import exhibitions as services
from heritage import media
from heritage import selectors as heritage_selectors
from heritage.ids import parse_id
from heritage.views import curator_required, error_text

FULL_RESOLUTION = ("restored", "photograph")


def _form_errors(form) -> str:
    return " ".join(f"{error}" for errors in form.errors.values() for error in errors)


def _cards(exhibitions) -> list[dict]:
    return [
        {"exhibition": exhibition, "cover": selectors.exhibition_cover(exhibition=exhibition)}
        for exhibition in exhibitions
    ]


def _exhibition_or_404(request: HttpRequest, slug: str) -> Exhibition:
    exhibition = selectors.exhibition_for_user(slug=slug, user=request.user)
    if exhibition is None:
        raise Http404("No such exhibition.")
    return exhibition


def _entry_or_404(exhibition: Exhibition, position: int) -> ExhibitionEntry:
    entry = selectors.exhibition_entry(exhibition=exhibition, position=position)
    if entry is None:
        raise Http404("No such work in this exhibition.")
    return entry


# Visitor pages -------------------------------------------------------------------------------


@require_GET
@public_page
def home(request: HttpRequest) -> HttpResponse:
    recent = []
    if heritage_selectors.user_can_browse_catalogue(user=request.user):
        recent = heritage_selectors.motif_list()[:8]
    cards = _cards(selectors.exhibitions_published()[:12])
    studies = study_selectors.studies_open()
    return render(
        request, "gallery/home.html", {"cards": cards, "recent": recent, "studies": studies}
    )


@require_GET
@public_page
def exhibition_list(request: HttpRequest) -> HttpResponse:
    form = ExhibitionFilterForm(request.GET or None, choices=selectors.filter_choices())
    exhibitions = selectors.exhibitions_published(**form.filters())
    return render(
        request,
        "gallery/exhibitions/list.html",
        {"form": form, "cards": _cards(exhibitions)},
        status=_filter_status(form),
    )


def _filter_status(form: ExhibitionFilterForm) -> int:
    """400 for a malformed filter (its error shown on the page, matching nothing), else 200."""
    return 400 if form.is_bound and not form.is_valid() else 200


@require_GET
@public_page
def exhibition_detail(request: HttpRequest, slug: str) -> HttpResponse:
    exhibition = _exhibition_or_404(request, slug)
    choices = selectors.filter_choices(exhibition=exhibition)
    form = ExhibitionFilterForm(request.GET or None, choices=choices)
    entries = selectors.exhibition_entries(exhibition=exhibition, **form.filters())
    return render(
        request,
        "gallery/exhibitions/detail.html",
        {
            "exhibition": exhibition,
            "form": form,
            "works": [selectors.work_of(entry) for entry in entries],
            "total": exhibition.entries.count(),
        },
        status=_filter_status(form),
    )


@require_GET
@public_page
def exhibition_work(request: HttpRequest, slug: str, position: int) -> HttpResponse:
    exhibition = _exhibition_or_404(request, slug)
    entry = _entry_or_404(exhibition, position)
    previous, following = selectors.exhibition_neighbours(exhibition=exhibition, position=position)
    return render(
        request,
        "gallery/exhibitions/work.html",
        {
            "exhibition": exhibition,
            "work": selectors.work_of(entry),
            "previous": previous,
            "next": following,
            "total": exhibition.entries.count(),
        },
    )


@require_GET
def exhibition_work_full(request: HttpRequest, slug: str, position: int, which: str):
    """The full-resolution restoration or photograph, only when a visitor asks for it."""
    if which not in FULL_RESOLUTION:
        raise Http404("Choose the restored image or the photograph.")
    exhibition = _exhibition_or_404(request, slug)
    entry = _entry_or_404(exhibition, position)
    motif = entry.motif
    if which == "restored":
        if entry.restoration_id is None:
            raise Http404("This work is shown as photographed.")
        file = result_of(entry).image
    else:
        file = motif.rgb_file
    # An opaque name: the stored one would tell the job and so, to a curious expert, the engine.
    # The photograph may be the uploaded original itself: its pixels go out, its EXIF (camera,
    # GPS) does not. Results and working copies are written by the app with no metadata.
    return media.serve_file(
        request,
        file,
        filename=f"{exhibition.slug}-{entry.position}-{which}.{media.extension_of(file)}",
        public=exhibition.is_published,
        strip_metadata=file.name == motif.original.name,
    )


# Curator pages -------------------------------------------------------------------------------


@curator_required
@require_GET
def exhibition_manage_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "gallery/exhibitions/manage_list.html",
        {"cards": _cards(selectors.exhibitions_all())},
    )


@curator_required
def exhibition_create(request: HttpRequest) -> HttpResponse:
    form = ExhibitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            exhibition = services.exhibition_create(
                created_by=request.user, **{**data, "slug": data["slug"] or None}
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, f'"{exhibition.title}" was created as a draft.')
            return redirect("gallery:exhibition_edit", pk=exhibition.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "gallery/exhibitions/create.html", {"form": form}, status=status)


def _edit_context(exhibition: Exhibition, form: ExhibitionForm, motif_asked: str = "") -> dict:
    rows = []
    for entry in selectors.exhibition_entries(exhibition=exhibition):
        entry_form = EntryUpdateForm(
            initial={
                "restoration": entry.restoration.job_id if entry.restoration_id else None,
                "caption": entry.caption,
            },
            motif=entry.motif,
            restorations=selectors.restoration_choices_for_motif(motif=entry.motif),
            auto_id=f"entry-{entry.pk}-%s",
        )
        rows.append({"entry": entry, "work": selectors.work_of(entry), "form": entry_form})
    motifs = heritage_selectors.motif_list()
    # ?motif=<id>: the motif filter of pages read without script (see results-by-motif.js).
    motif_id = parse_id(motif_asked)
    motif = motifs.filter(pk=motif_id).first() if motif_id is not None else None
    add_form = EntryAddForm(
        initial={"motif": motif.pk if motif else None},
        motifs=motifs,
        restorations=selectors.restoration_choices(),
        auto_id="add-%s",
    )
    return {
        "exhibition": exhibition,
        "form": form,
        "rows": rows,
        "add_form": add_form,
        "chosen_motif": motif.pk if motif else None,
        "chosen_count": (
            selectors.restoration_choices_for_motif(motif=motif).count() if motif else 0
        ),
        "motif_error": (
            f"There is no motif #{motif_asked} to show the results of: choose one from the list."
            if motif_asked and motif is None
            else ""
        ),
    }


@curator_required
def exhibition_edit(request: HttpRequest, pk: int) -> HttpResponse:
    exhibition = get_object_or_404(Exhibition, pk=pk)
    form = ExhibitionForm(request.POST or None, initial=ExhibitionForm.initial_of(exhibition))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.exhibition_update(
                exhibition=exhibition,
                user=request.user,
                **{**data, "slug": data["slug"] or exhibition.slug},
            )
        except ValidationError as exc:
            exhibition.refresh_from_db()
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, "The exhibition was saved.")
            return redirect("gallery:exhibition_edit", pk=exhibition.pk)
    context = _edit_context(exhibition, form, request.GET.get("motif", "").strip())
    status = 400 if request.method == "POST" or context["motif_error"] else 200
    return render(request, "gallery/exhibitions/edit.html", context, status=status)


def _back(exhibition_pk: int, anchor: str = "") -> HttpResponse:
    response = redirect("gallery:exhibition_edit", pk=exhibition_pk)
    response["Location"] += anchor
    return response


def _back_to_motif(exhibition_pk: int, motif: int | None) -> HttpResponse:
    """The edit page at its "add a work" form, showing the results of `motif` if given."""
    response = redirect("gallery:exhibition_edit", pk=exhibition_pk)
    if motif is not None:
        response["Location"] += f"?motif={motif}"
    response["Location"] += "#add-work"
    return response


@curator_required
@require_POST
def exhibition_entry_add(request: HttpRequest, pk: int) -> HttpResponse:
    exhibition = get_object_or_404(Exhibition, pk=pk)
    form = EntryAddForm(
        request.POST,
        motifs=heritage_selectors.motif_list(),
        restorations=selectors.restoration_choices(),
    )
    valid = form.is_valid()
    motif = form.cleaned_data.get("motif")
    motif_pk = motif.pk if motif is not None else None
    if "show_results" in request.POST:
        # The button that filters the results by motif where no script does it: adds nothing.
        if "motif" in form.errors:
            messages.error(request, f"No results to show: {' '.join(form.errors['motif'])}")
        return _back_to_motif(pk, motif_pk)
    if not valid:
        messages.error(request, f"The work was not added: {_form_errors(form)}")
        return _back_to_motif(pk, motif_pk)
    try:
        entry = services.exhibition_entry_add(
            exhibition=exhibition, user=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, f"The work was not added: {error_text(exc)}")
        return _back_to_motif(pk, motif_pk)
    messages.success(request, f'"{entry.motif.title}" was added as work {entry.position}.')
    return _back(pk, f"#entry-{entry.pk}")


@curator_required
@require_POST
def exhibition_entry_update(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    entry = get_object_or_404(
        ExhibitionEntry.objects.select_related("motif"), pk=entry_pk, exhibition_id=pk
    )
    # Every finished result, not the motif's alone: one of another motif is refused by name.
    form = EntryUpdateForm(
        request.POST, motif=entry.motif, restorations=selectors.restoration_choices()
    )
    if not form.is_valid():
        messages.error(request, f"Work {entry.position} was not saved: {_form_errors(form)}")
        return _back(pk, f"#entry-{entry.pk}")
    try:
        services.exhibition_entry_update(entry=entry, user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, f"Work {entry.position} was not saved: {error_text(exc)}")
    else:
        messages.success(request, f"Work {entry.position} was saved.")
    return _back(pk, f"#entry-{entry.pk}")


@curator_required
@require_POST
def exhibition_entry_move(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    entry = get_object_or_404(ExhibitionEntry, pk=entry_pk, exhibition_id=pk)
    form = EntryMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The work was not moved: {_form_errors(form)}")
        return _back(pk)
    try:
        entry = services.exhibition_entry_move(
            entry=entry, user=request.user, offset=form.cleaned_data["offset"]
        )
    except ValidationError as exc:
        messages.error(request, f"The work was not moved: {error_text(exc)}")
    else:
        messages.success(request, f"The work is now number {entry.position}.")
    return _back(pk, f"#entry-{entry.pk}")


@curator_required
@require_POST
def exhibition_entry_remove(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    entry = get_object_or_404(
        ExhibitionEntry.objects.select_related("motif"), pk=entry_pk, exhibition_id=pk
    )
    services.exhibition_entry_remove(entry=entry, user=request.user)
    messages.success(request, f'"{entry.motif.title}" was removed from the exhibition.')
    return _back(pk)


@curator_required
@require_POST
def exhibition_publish(request: HttpRequest, pk: int) -> HttpResponse:
    exhibition = get_object_or_404(Exhibition, pk=pk)
    try:
        services.exhibition_publish(exhibition=exhibition, user=request.user)
    except ValidationError as exc:
        messages.error(request, f"The exhibition was not published: {error_text(exc)}")
    else:
        messages.success(request, "The exhibition is published: visitors can see it now.")
    return _back(pk)


@curator_required
@require_POST
def exhibition_unpublish(request: HttpRequest, pk: int) -> HttpResponse:
    exhibition = get_object_or_404(Exhibition, pk=pk)
    services.exhibition_unpublish(exhibition=exhibition, user=request.user)
    messages.success(request, "The exhibition is a draft again: visitors no longer see it.")
    return _back(pk)


_WORK = "exhibitions/<slug:slug>/<id:position>/"
_MANAGE = "manage/exhibitions/<id:pk>/"
_ENTRY = f"{_MANAGE}entries/<id:entry_pk>/"

# "home" ("/") is mapped by heritage/urls.py itself, outside the gallery namespace.
urlpatterns = [
    path("exhibitions/", exhibition_list, name="exhibition_list"),
    path("exhibitions/<slug:slug>/", exhibition_detail, name="exhibition_detail"),
    path(_WORK, exhibition_work, name="exhibition_work"),
    path(f"{_WORK}full/<str:which>/", exhibition_work_full, name="exhibition_work_full"),
    path("manage/exhibitions/", exhibition_manage_list, name="exhibition_manage_list"),
    path("manage/exhibitions/new/", exhibition_create, name="exhibition_create"),
    path(_MANAGE, exhibition_edit, name="exhibition_edit"),
    path(f"{_MANAGE}entries/add/", exhibition_entry_add, name="exhibition_entry_add"),
    path(_ENTRY, exhibition_entry_update, name="exhibition_entry_update"),
    path(f"{_ENTRY}move/", exhibition_entry_move, name="exhibition_entry_move"),
    path(f"{_ENTRY}remove/", exhibition_entry_remove, name="exhibition_entry_remove"),
    path(f"{_MANAGE}publish/", exhibition_publish, name="exhibition_publish"),
    path(f"{_MANAGE}unpublish/", exhibition_unpublish, name="exhibition_unpublish"),
]
