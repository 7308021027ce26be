"""Catalogue pages: motif list, upload, detail, and the damage editor's endpoints."""

import json
from functools import lru_cache, wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from heritage import forms, held_uploads, jsonbody, masks, media, segment, selectors, services
from heritage.models import DamageAnnotation, DamageKind, Motif


def catalogue_required(view):
    """Signed-in curators and experts only; visitors are sent to sign in."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not selectors.user_can_browse_catalogue(user=request.user):
            raise PermissionDenied("The catalogue is open to curators and experts.")
        return view(request, *args, **kwargs)

    return wrapper


def curator_required(view):
    """Curators only: uploads, annotations and (later) jobs change the catalogue."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_curator:
            raise PermissionDenied("Only curators can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def error_text(exc: ValidationError) -> str:
    """A validation error's messages as one line for the messages framework."""
    return " ".join(exc.messages)


@catalogue_required
@require_GET
def motif_list(request: HttpRequest) -> HttpResponse:
    form = forms.MotifFilterForm(request.GET or None)
    filters = {}
    if form.is_bound:
        # cleaned_data keeps every valid field: a stale site id drops that filter only.
        form.is_valid()
        filters = form.cleaned_data
    motifs = selectors.motif_list(
        site=filters["site"].pk if filters.get("site") else None,
        era=filters.get("era", ""),
        style=filters.get("style", ""),
        search=filters.get("q", ""),
        kind=filters.get("kind", ""),
    )
    page = Paginator(motifs, 24).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "heritage/motif_list.html",
        {
            "form": form,
            "page": page,
            "choices": selectors.motif_filter_choices(),
            "filters": filters,
            "query": query.urlencode(),
        },
    )


@curator_required
def motif_upload(request: HttpRequest) -> HttpResponse:
    """The upload form. Every error (the file's, the metadata's, a duplicate) comes in one
    answer, each once; an accepted file of a refused form is kept (held_uploads) until the
    next submission, which may replace it."""
    user_id = request.user.pk
    token = request.POST.get(held_uploads.FIELD, "")
    files = request.FILES.copy() if request.method == "POST" else None
    if files is not None and not files.get("image") and token:
        held = held_uploads.take(user_id=user_id, token=token)
        if held is not None:
            files["image"] = held
    form = forms.MotifUploadForm(request.POST or None, files)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # A refused upload must not leave the new site it named behind.
            with transaction.atomic():
                site = data["site"] or services.site_get_or_create(name=data["new_site"])
                motif = services.motif_create(
                    uploaded_by=request.user,
                    file=data["image"],
                    filename=data["image"].name,
                    site=site,
                    kind=data["kind"],
                    checked=form.checked_image,
                    **{name: data[name] for name in services.MOTIF_TEXT_FIELDS},
                )
        except services.DuplicateMotif as exc:
            # Catalogued by another request since the form's check.
            form.duplicate = exc.existing
            form.add_error("image", error_text(exc))
        except ValidationError as exc:
            form.add_error(
                "image" if exc.code in {"bad_image", "too_large"} else None, error_text(exc)
            )
        else:
            if token:
                held_uploads.release(user_id=user_id, token=token)
            messages.success(request, f'"{motif.title}" was added to the catalogue.')
            return redirect(motif)
    kept = None
    if request.method == "POST" and "image" not in form.errors and form.cleaned_data.get("image"):
        # The file passed every check: keep it so the curator fixes the rest only.
        image = form.cleaned_data["image"]
        if token and not request.FILES.get("image"):
            kept_token = token  # the same held file again
        else:
            kept_token = held_uploads.hold(user_id=user_id, upload=image)
        kept = {"token": kept_token, "name": image.name, "size": image.size}
        form.fields["image"].widget.kept = True
    if token and (kept is None or kept["token"] != token):
        # Replaced by a new file, or refused itself (catalogued meanwhile): let it go.
        held_uploads.release(user_id=user_id, token=token)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "heritage/motif_upload.html",
        {
            "form": form,
            "duplicate": form.duplicate,
            "kept": kept,
            "held_field": held_uploads.FIELD,
            "choices": selectors.motif_filter_choices(),
        },
        status=status,
    )


@catalogue_required
def motif_detail(request: HttpRequest, pk: int) -> HttpResponse:
    motif = get_object_or_404(Motif.objects.select_related("site"), pk=pk)
    return render(
        request,
        "heritage/motif_detail.html",
        {
            "motif": motif,
            "annotations": selectors.annotation_list(motif=motif),
            "import_form": forms.MaskImportForm(),
            "simulate_form": forms.SimulateDamageForm(),
        },
    )


@curator_required
def motif_edit(request: HttpRequest, pk: int) -> HttpResponse:
    motif = get_object_or_404(Motif, pk=pk)
    form = forms.MotifMetadataForm(request.POST or None, instance=motif)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            site = data["site"] or services.site_get_or_create(name=data["new_site"])
            services.motif_update(
                motif=motif,
                updated_by=request.user,
                site=site,
                kind=data["kind"],
                **{name: data[name] for name in services.MOTIF_TEXT_FIELDS},
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, "The metadata was saved.")
            return redirect(motif)
    return render(
        request,
        "heritage/motif_edit.html",
        {"form": form, "motif": motif, "choices": selectors.motif_filter_choices()},
    )


@catalogue_required
@require_GET
def motif_original(request: HttpRequest, pk: int) -> HttpResponse:
    """The untouched original, as an attachment so browsers never render it inline."""
    motif = get_object_or_404(Motif, pk=pk)
    return media.serve_file(
        request, motif.original, filename=motif.original_filename, attachment=True
    )


@curator_required
@require_GET
def annotation_editor(request: HttpRequest, pk: int, annotation_pk: int | None = None):
    motif = get_object_or_404(Motif, pk=pk)
    annotation = None
    if annotation_pk is not None:
        annotation = get_object_or_404(DamageAnnotation, pk=annotation_pk, motif=motif)
        if hasattr(annotation, "superseded_by"):
            latest = annotation.superseded_by
            while hasattr(latest, "superseded_by"):
                latest = latest.superseded_by
            messages.info(request, "That annotation was revised; this is its latest revision.")
            return redirect("heritage:annotation_edit", pk=motif.pk, annotation_pk=latest.pk)
    config = {
        "motifId": motif.pk,
        "width": motif.width,
        "height": motif.height,
        "imageUrl": media.motif_file_url(motif, "image"),
        "maskUrl": reverse("heritage:annotation_mask", args=[annotation.pk])
        if annotation
        else None,
        "annotationId": annotation.pk if annotation else None,
        "kinds": annotation.kinds if annotation else [],
        "notes": annotation.notes if annotation else "",
        "saveUrl": reverse("heritage:annotation_save", args=[motif.pk]),
        "segmentUrl": reverse("heritage:annotation_segment", args=[motif.pk]),
        "openUrl": reverse("heritage:annotation_open", args=[motif.pk]),
        "motifUrl": motif.get_absolute_url(),
    }
    return render(
        request,
        "heritage/annotation_editor.html",
        {
            "motif": motif,
            "annotation": annotation,
            "kinds": DamageKind.choices,
            "config": config,
            "simulate_form": forms.SimulateDamageForm(),
        },
    )


@curator_required
@require_POST
def annotation_save(request: HttpRequest, pk: int) -> JsonResponse:
    """Store the editor's mask (a PNG of the motif's size) as a new annotation or revision."""
    motif = get_object_or_404(Motif, pk=pk)
    form = forms.MaskSaveForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"error": _form_errors(form)}, status=400)
    data = form.cleaned_data
    supersedes = None
    if data["supersedes"]:
        supersedes = DamageAnnotation.objects.filter(pk=data["supersedes"], motif=motif).first()
        if supersedes is None:
            return JsonResponse(
                {"error": "The annotation being revised does not exist."}, status=400
            )
    try:
        mask = masks.read_mask(data["mask"].read(), width=motif.width, height=motif.height)
        annotation = services.annotation_create(
            motif=motif,
            author=request.user,
            mask=mask,
            method=data["method"],
            kinds=data["kinds"],
            notes=data["notes"],
            supersedes=supersedes,
        )
    except masks.MaskError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except ValidationError as exc:
        return JsonResponse({"error": error_text(exc)}, status=400)
    return JsonResponse(
        {
            "id": annotation.pk,
            "coverage": annotation.coverage,
            "editUrl": reverse("heritage:annotation_edit", args=[motif.pk, annotation.pk]),
            "maskUrl": reverse("heritage:annotation_mask", args=[annotation.pk]),
        },
        status=201,
    )


def _form_errors(form) -> str:
    return " ".join(f"{error}" for errors in form.errors.values() for error in errors)


# A curator clicks several times on the same motif: keep the last decoded motifs in memory
# (bounded: large murals are decoded per click rather than held).
_SEGMENT_CACHE_MAX_PIXELS = 40_000_000


@lru_cache(maxsize=2)
def _decoded_rgb(pk: int, sha256: str):
    return services.motif_read_rgb(motif=Motif.objects.get(pk=pk))


def _segment_source(motif: Motif):
    if motif.width * motif.height > _SEGMENT_CACHE_MAX_PIXELS:
        return services.motif_read_rgb(motif=motif)
    # Keyed by sha256 too, so a reused primary key can never return another image.
    return _decoded_rgb(motif.pk, motif.sha256)


def _whole_number(value) -> int | None:
    """A JSON whole number (12 or 12.0), or None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _clicks(body: dict, name: str) -> list[tuple[int, int]]:
    """The [x, y] pairs under `name`; JSONBodyError naming what is wrong otherwise."""
    value = body.get(name, [])
    if not isinstance(value, list) or len(value) > segment.MAX_CLICKS:
        raise jsonbody.JSONBodyError(
            f'"{name}" must be a list of at most {segment.MAX_CLICKS} [x, y] clicks, '
            'e.g. {"positive": [[120, 45]]}.'
        )
    points = []
    for point in value:
        pair = [_whole_number(v) for v in point] if isinstance(point, list) else []
        if len(pair) != 2 or None in pair:
            shown = json.dumps(point)
            raise jsonbody.JSONBodyError(
                f'Each "{name}" click must be an [x, y] pair of whole numbers, got '
                f"{shown if len(shown) <= 40 else shown[:40] + '...'}."
            )
        points.append((pair[0], pair[1]))
    return points


@curator_required
@require_POST
def annotation_segment(request: HttpRequest, pk: int) -> HttpResponse:
    """Grow a region from 1-3 clicks; answers a PNG mask of the motif's size."""
    motif = get_object_or_404(Motif, pk=pk)
    try:
        body = jsonbody.read_json_object(request)
        positive = _clicks(body, "positive")
        negative = _clicks(body, "negative")
        tolerance = _whole_number(body.get("tolerance", 20))
        if tolerance is None:
            raise jsonbody.JSONBodyError('"tolerance" must be a whole number from 0 to 255.')
    except jsonbody.JSONBodyError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status)
    rgb = _segment_source(motif)
    try:
        region = segment.segment(rgb, positive=positive, negative=negative, tolerance=tolerance)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return HttpResponse(masks.encode_png(region), content_type="image/png")


@curator_required
@require_POST
def annotation_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Import a mask file; back to the motif with a message (scripts: the API's
    POST /api/v1/motifs/<id>/annotations/)."""
    motif = get_object_or_404(Motif, pk=pk)
    form = forms.MaskImportForm(request.POST, request.FILES)
    annotation, error, size = None, "", None
    if form.is_valid():
        data = form.cleaned_data
        try:
            mask, size = masks.read_mask_sized(
                data["mask"].read(), width=motif.width, height=motif.height, resize=data["resize"]
            )
            annotation = services.annotation_create(
                motif=motif,
                author=request.user,
                mask=mask,
                method=DamageAnnotation.Method.IMPORTED,
                kinds=data["kinds"],
                notes=data["notes"],
            )
        except masks.MaskSizeError as exc:
            how = "tick “Resize…” and import it again"
            error = f"{exc}: {how}." if exc.resizable else f"{exc}."
        except masks.MaskError as exc:
            error = str(exc)
        except ValidationError as exc:
            error = error_text(exc)
    else:
        error = _form_errors(form)
    resized = size is not None and size != (motif.width, motif.height)
    if annotation is None:
        messages.error(request, f"The mask was not imported: {error}")
    elif resized:
        messages.success(request, f"The mask was imported: {_resized_note(size, motif)}.")
    else:
        messages.success(request, "The mask was imported.")
    return redirect(motif)


def _resized_note(size: tuple[int, int], motif: Motif) -> str:
    return (
        f"it was {size[0]} × {size[1]} pixels and was resized to the motif's "
        f"{motif.width} × {motif.height} (nearest neighbour)"
    )


@curator_required
@require_POST
def annotation_read_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor's "Open a mask file": the file read as an import reads it, answered as a PNG
    of the motif's size for the curator to check and save (nothing is stored). A mask of the
    motif's proportions but another size comes back resized, its size in X-Mask-Resized-From;
    any other size, or a file that is no mask, is a 400 with the reason."""
    motif = get_object_or_404(Motif, pk=pk)
    upload = request.FILES.get("mask")
    if upload is None:
        return JsonResponse({"error": "Choose a mask file to open."}, status=400)
    try:
        mask, size = masks.read_mask_sized(
            upload.read(), width=motif.width, height=motif.height, resize=True
        )
    except masks.MaskError as exc:
        return JsonResponse({"error": f"{exc}."}, status=400)
    response = HttpResponse(masks.encode_png(mask), content_type="image/png")
    if size != (motif.width, motif.height):
        response["X-Mask-Resized-From"] = f"{size[0]}x{size[1]}"
    return response


@curator_required
@require_POST
def annotation_simulate(request: HttpRequest, pk: int) -> HttpResponse:
    motif = get_object_or_404(Motif, pk=pk)
    form = forms.SimulateDamageForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"No damage was simulated: {_form_errors(form)}")
        return redirect(motif)
    try:
        annotation = services.annotation_simulate(
            motif=motif,
            author=request.user,
            protocol=form.cleaned_data["protocol"],
            seed=form.cleaned_data["seed"],
        )
    except ValidationError as exc:
        messages.error(request, f"No damage was simulated: {error_text(exc)}")
        return redirect(motif)
    messages.success(
        request,
        f"Simulated {annotation.get_protocol_display().lower()} damage (seed {annotation.seed}) "
        f"covers {annotation.coverage:.0%} of the motif.",
    )
    return redirect(motif)


@catalogue_required
@require_GET
def annotation_mask(request: HttpRequest, pk: int) -> HttpResponse:
    """Export a mask as a PNG file named after its motif."""
    annotation = get_object_or_404(DamageAnnotation.objects.select_related("motif"), pk=pk)
    filename = f"motif-{annotation.motif_id}-annotation-{annotation.pk}-mask.png"
    return media.serve_file(
        request, annotation.mask, filename=filename, attachment=request.GET.get("download") == "1"
    )
