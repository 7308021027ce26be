"""Expert review pages: blind scoring for experts, campaign set-up and results for curators."""

from pathlib import PurePosixPath

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, re_path, reverse
from django.views.decorators.http import require_GET, require_POST

from gallery.charts import Bar, interval_chart
from gallery.forms import reviews as forms
from gallery.models import SCALE, ReviewCampaign, ReviewItem
from gallery.results import RESULT_RELATED, result_of
from gallery.review_access import IMAGE_KINDS
from gallery.review_access import image_file as _image_file
from gallery.review_access import image_url as _image_url
from gallery.review_access import reviewer_campaign as _reviewer_campaign
from gallery.selectors import reviews as selectors
from gallery.services import reviews as services
from gallery.views._csv import csv_response
from heritage import media
from heritage.ids import parse_id
from heritage.views import catalogue_required, curator_required, error_text

IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


# Expert side


@catalogue_required
@require_GET
def review_home(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaigns_for_expert(expert=request.user)
    return render(request, "gallery/review/home.html", {"campaigns": campaigns})


@catalogue_required
@require_GET
def review_start(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _reviewer_campaign(request, pk)
    if campaign.status != ReviewCampaign.Status.OPEN and not request.user.is_curator:
        messages.info(request, f"“{campaign.title}” is not open for scoring.")
        return redirect("gallery:review_home")
    item = selectors.review_next(campaign=campaign, expert=request.user)
    if item is not None:
        return redirect("gallery:review_item", pk=campaign.pk, token=item.token)
    done, total = selectors.review_progress(campaign=campaign, expert=request.user)
    queue = selectors.review_queue(campaign=campaign, expert=request.user)
    context = {"campaign": campaign, "done": done, "total": total, "queue": queue}
    return render(request, "gallery/review/done.html", context)


@catalogue_required
def review_item(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    campaign = _reviewer_campaign(request, pk)
    item = get_object_or_404(
        ReviewItem.objects.select_related(*RESULT_RELATED), campaign=campaign, token=token
    )
    response, saved = selectors.review_response_of(item=item, expert=request.user)
    if request.method != "POST":
        scores = {key: str(value) for key, value in saved.items()}
        comment = response.comment if response else ""
        return _item_page(request, campaign, item, response, scores, comment, {})
    scores = forms.review_scores(request.POST, rubric=campaign.rubric)
    comment = request.POST.get("comment", "")
    try:
        services.review_submit(item=item, expert=request.user, scores=scores, comment=comment)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return _item_page(request, campaign, item, response, scores, comment, errors)
    messages.success(request, "Your scores were saved.")
    return redirect("gallery:review_start", pk=campaign.pk)


def _item_page(request, campaign, item, response, scores, comment, errors) -> HttpResponse:
    """The scoring page; `scores` and `comment` are what to show checked and filled in."""
    done, total = selectors.review_progress(campaign=campaign, expert=request.user)
    submitted = response is not None and response.submitted_at is not None
    criteria = [
        {
            **criterion,
            "error": " ".join(errors.get(criterion["key"], [])),
            "options": [
                {
                    "value": value,
                    "word": SCALE[value],
                    "checked": scores.get(criterion["key"]) == str(value),
                }
                for value in sorted(SCALE)
            ],
        }
        for criterion in campaign.rubric
    ]
    motif = result_of(item).motif
    context = {
        "campaign": campaign,
        "token": item.token,
        "motif": motif,
        "position": min(done + (0 if submitted else 1), total),
        "done": done,
        "total": total,
        "criteria": criteria,
        "comment": comment,
        "form_errors": errors.get("__all__", []),
        "has_errors": bool(errors),
        "submitted": submitted,
        "skipped": response is not None and response.skipped,
        "images": {kind: _image_url(campaign, item, kind) for kind in IMAGE_KINDS},
        "reference_label": campaign.get_reference_display(),
    }
    return render(request, "gallery/review/item.html", context, status=400 if errors else 200)


@catalogue_required
@require_POST
def review_skip(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    campaign = _reviewer_campaign(request, pk)
    item = get_object_or_404(ReviewItem, campaign=campaign, token=token)
    try:
        services.review_skip(item=item, expert=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("gallery:review_item", pk=campaign.pk, token=item.token)
    messages.info(request, "Skipped: the item comes back once the others are scored.")
    return redirect("gallery:review_start", pk=campaign.pk)


@require_GET
def review_image(request: HttpRequest, token: str, kind: str, ext: str) -> FileResponse:
    """The image bytes under a blind name, so no media path (it holds job ids) reaches experts.

    404 to anyone but curators and the item's experts while the campaign is open (a file URL
    sends nobody to sign in).
    """
    item = selectors.review_item_for_image(token=token, user=request.user)
    if item is None:
        raise Http404("No such image.")
    # Experts see a campaign's images while it is open; curators always.
    if item.campaign.status != ReviewCampaign.Status.OPEN and not request.user.is_curator:
        raise Http404("No such image.")
    file = _image_file(item.campaign, item, kind)
    if not file or PurePosixPath(file.name).suffix.lstrip(".").lower() != ext:
        raise Http404("No such image.")
    return media.serve_file(request, file, filename=f"item-{token}-{kind}.{ext}")


# Curator side


@curator_required
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaign_list()
    return render(request, "gallery/review/campaign_list.html", {"campaigns": campaigns})


@curator_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    motif_id = request.GET.get("motif", "")
    motif_id = parse_id(motif_id)
    groups = selectors.campaign_restoration_groups()
    initial = {}
    if motif_id is not None:
        # The motif the curator came from goes first, its restorations ticked.
        groups.sort(key=lambda group: group[0].pk != motif_id)
        initial["restorations"] = [r.job_id for m, rs in groups if m.pk == motif_id for r in rs]
    form = forms.CampaignCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(created_by=request.user, **data)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, f"The campaign “{campaign.title}” was created.")
            return redirect("gallery:campaign_detail", pk=campaign.pk)
    selected = {str(pk) for pk in form["restorations"].value() or []}
    context = {"form": form, "groups": groups, "selected": selected}
    status = 400 if request.method == "POST" else 200
    return render(request, "gallery/review/campaign_form.html", context, status=status)


def _results_charts(results: dict) -> list[tuple[str, str]]:
    """One small chart per criterion, a bar per engine (an engine keeps its colour throughout)."""
    charts = []
    for index, criterion in enumerate(results["criteria"]):
        bars = [
            # The chart has room for the note's head ("all scores equal"); the table has it all.
            Bar(row["engine"], cell.value, cell.low, cell.high, group, cell.note.split(":")[0])
            for group, row in enumerate(results["rows"])
            for cell in [row["cells"][index]]
        ]
        title = f"{criterion['label']}: mean score per engine with 95% confidence interval"
        charts.append(
            (criterion["label"], interval_chart(bars, lo=1, hi=5, title=title, ticks=range(1, 6)))
        )
    return charts


@curator_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(ReviewCampaign.objects.select_related("created_by"), pk=pk)
    results = selectors.campaign_results(campaign=campaign)
    first = ReviewItem.objects.filter(campaign=campaign).order_by("id").first()
    context = {
        "campaign": campaign,
        "results": results,
        "charts": _results_charts(results),
        "invite_form": forms.CampaignInviteForm(
            queryset=selectors.experts_not_in(campaign=campaign)
        ),
        "preview_url": reverse("gallery:review_item", args=[pk, first.token]) if first else None,
    }
    return render(request, "gallery/review/campaign_detail.html", context)


@curator_required
@require_POST
def campaign_open(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(ReviewCampaign, pk=pk)
    try:
        services.campaign_open(campaign=campaign, user=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "The campaign is open: invited experts can score now.")
    return redirect("gallery:campaign_detail", pk=pk)


@curator_required
@require_POST
def campaign_close(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(ReviewCampaign, pk=pk)
    try:
        services.campaign_close(campaign=campaign, user=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "The campaign is closed; its scores are kept.")
    return redirect("gallery:campaign_detail", pk=pk)


@curator_required
@require_POST
def campaign_invite(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(ReviewCampaign, pk=pk)
    form = forms.CampaignInviteForm(
        request.POST, queryset=selectors.experts_not_in(campaign=campaign)
    )
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("gallery:campaign_detail", pk=pk)
    try:
        added = services.campaign_invite(
            campaign=campaign, experts=form.cleaned_data["experts"], user=request.user
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Invited {added} expert{'' if added == 1 else 's'}.")
    return redirect("gallery:campaign_detail", pk=pk)


@curator_required
@require_GET
def campaign_scores_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """Every raw score with its item, engine, expert and comment, for analysis elsewhere."""
    campaign = get_object_or_404(ReviewCampaign, pk=pk)
    return csv_response(
        filename=f"review-{campaign.pk}-scores.csv",
        header=selectors.SCORE_COLUMNS,
        rows=selectors.campaign_scores_rows(campaign=campaign),
    )


urlpatterns = [
    path("review/", review_home, name="review_home"),
    path("review/<id:pk>/", review_start, name="review_start"),
    path("review/<id:pk>/items/<str:token>/", review_item, name="review_item"),
    path("review/<id:pk>/items/<str:token>/skip/", review_skip, name="review_skip"),
    re_path(
        r"^review/items/(?P<token>[-\w]+)/(?P<kind>result|reference|outline)\.(?P<ext>[a-z]+)$",
        review_image,
        name="review_image",
    ),
    path("manage/reviews/", campaign_list, name="campaign_list"),
    path("manage/reviews/new/", campaign_create, name="campaign_create"),
    path("manage/reviews/<id:pk>/", campaign_detail, name="campaign_detail"),
    path("manage/reviews/<id:pk>/open/", campaign_open, name="campaign_open"),
    path("manage/reviews/<id:pk>/close/", campaign_close, name="campaign_close"),
    path("manage/reviews/<id:pk>/invite/", campaign_invite, name="campaign_invite"),
    path("manage/reviews/<id:pk>/scores.csv", campaign_scores_csv, name="campaign_scores_csv"),
]
