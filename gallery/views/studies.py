"""User study pages: visitors vote on image sets; curators set studies up and read the results."""

import math
import string

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from gallery.charts import Bar, interval_chart, timeline_chart
from gallery.forms.studies import DEFAULT_QUESTION, StudyCreateForm, VoteForm
from gallery.models import UserStudy
from gallery.participants import ip_hash as _ip_hash
from gallery.participants import rate_period
from gallery.participants import remember as _remember
from gallery.participants import study_or_404 as _study_or_404
from gallery.participants import visitor_of as _visitor
from gallery.results import result_of
from gallery.selectors import studies as selectors
from gallery.services import studies as services
from gallery.views._csv import csv_response
from heritage.views import curator_required, error_text

IMAGE_CACHE = {"private": True, "max_age": 3600}
NO_CHOICE = "Choose one of the images first, then confirm your choice."
UNREADABLE = "That vote could not be read; please choose again."


def _throttled(request: HttpRequest, study: UserStudy, rate: str) -> HttpResponse:
    response = render(request, "gallery/studies/throttled.html", {"study": study}, status=429)
    response["Retry-After"] = str(rate_period(rate))
    return response


@require_GET
def study_detail(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study_or_404(request, slug)
    tally = selectors.study_tally(study=study, participant=_visitor(request).participant)
    return render(request, "gallery/studies/detail.html", {"study": study, "tally": tally})


@require_http_methods(["GET", "POST"])
def study_vote(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: on to the visitor's next image set (or the thanks); POST: cast a vote."""
    study = _study_or_404(request, slug)
    if request.method == "POST":
        return _vote_post(request, study)
    if study.status == UserStudy.Status.CLOSED:
        return redirect(study)
    visitor = _visitor(request)
    following = selectors.study_next(study=study, participant=visitor.viewer)
    if following is None:
        return _remember(redirect("gallery:study_thanks", study.slug), visitor)
    # Each image set has an address of its own, so the back button brings back the set the
    # visitor saw rather than whatever comes next.
    target = redirect("gallery:study_trial", study.slug, following[0].position)
    return _remember(target, visitor)


@require_GET
@cache_control(private=True)
def study_trial(request: HttpRequest, slug: str, position: int) -> HttpResponse:
    study = _study_or_404(request, slug)
    if study.status == UserStudy.Status.CLOSED:
        return redirect(study)
    viewer = (visitor := _visitor(request)).viewer
    # Stored as served: the vote posted from this page is checked against it.
    served = services.trial_serve(study=study, participant=viewer, position=position)
    if served is None:
        return redirect("gallery:study_vote", study.slug)
    candidates = selectors.served_candidates(served=served)
    number, total = selectors.study_progress(study=study, participant=viewer, trial=served.trial)
    context = {
        "study": study,
        "trial": served.trial,
        "repeat": served.repeat,
        "choices": list(zip(string.ascii_uppercase, candidates, strict=False)),
        "shown": ",".join(served.shown),
        "number": number,
        "total": total,
        "answered": selectors.study_participant_votes(study=study, participant=visitor.participant),
    }
    return _remember(render(request, "gallery/studies/vote.html", context), visitor)


def _vote_post(request: HttpRequest, study: UserStudy) -> HttpResponse:
    again = redirect("gallery:study_vote", study.slug)
    if is_ratelimited(
        request, group="gallery.vote", key="ip", rate=settings.GALLERY_VOTE_RATE, increment=True
    ):
        return _throttled(request, study, settings.GALLERY_VOTE_RATE)
    form = VoteForm(request.POST)
    trial = form.is_valid() and selectors.study_trial(
        study=study, trial_id=form.cleaned_data["trial"]
    )
    if not trial:
        # Without the page's script, only the browser's own check stops an empty confirm.
        unchosen = list(form.errors) == ["choice"] and not request.POST.get("choice")
        messages.error(request, NO_CHOICE if unchosen else UNREADABLE)
        return again
    visitor = _visitor(request)
    if visitor.participant is None and is_ratelimited(
        request,
        group="gallery.participant",
        key="ip",
        rate=settings.GALLERY_PARTICIPANT_RATE,
        increment=True,
    ):
        return _throttled(request, study, settings.GALLERY_PARTICIPANT_RATE)
    ip_hash = _ip_hash(request)
    try:
        # A refused first vote must not leave a participant behind.
        with transaction.atomic():
            voter = visitor.participant or services.participant_create(
                ip_hash=ip_hash, participant_id=visitor.key
            )
            services.vote_cast(
                trial=trial,
                participant=voter,
                choice=form.cleaned_data["choice"],
                shown=form.cleaned_data["shown"],
                repeat=form.cleaned_data["repeat"],
                ip_hash=ip_hash,
            )
    except ValidationError as exc:
        level = messages.WARNING if exc.code in {"already_voted", "retired"} else messages.ERROR
        messages.add_message(request, level, error_text(exc))
    return _remember(again, visitor)


@require_GET
def study_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study_or_404(request, slug)
    tally = selectors.study_tally(study=study, participant=_visitor(request).participant)
    return render(request, "gallery/studies/thanks.html", {"study": study, "tally": tally})


@require_GET
@cache_control(**IMAGE_CACHE)
def study_candidate_image(request: HttpRequest, token: str) -> FileResponse:
    """A candidate's preview under its opaque token: the stored path would name the job."""
    candidate = selectors.study_candidate_for_image(token=token, user=request.user)
    if candidate is None:
        raise Http404("No such image.")
    preview = result_of(candidate).preview
    return FileResponse(preview.open("rb"), content_type="image/jpeg", filename=f"{token}.jpg")


@require_GET
@cache_control(**IMAGE_CACHE)
def study_input_image(request: HttpRequest, pk: int) -> FileResponse:
    """What every candidate of the trial was made from (the damaged input), by trial id."""
    trial = selectors.study_trial_for_image(trial_id=pk, user=request.user)
    candidate = trial and selectors.study_trial_input(trial=trial)
    if not candidate:
        raise Http404("No such image.")
    source = result_of(candidate).input_preview
    return FileResponse(source.open("rb"), content_type="image/jpeg", filename=f"input-{pk}.jpg")


@curator_required
@require_GET
def study_manage_list(request: HttpRequest) -> HttpResponse:
    studies = selectors.study_list()
    return render(request, "gallery/studies/manage_list.html", {"studies": studies})


@curator_required
@require_http_methods(["GET", "POST"])
def study_create(request: HttpRequest) -> HttpResponse:
    form = StudyCreateForm(request.POST or None, initial={"question": DEFAULT_QUESTION})
    if request.method == "POST" and form.is_valid():
        try:
            study = services.study_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f'The study "{study.title}" was created.')
            return redirect("gallery:study_results", study.pk)
    style_groups = selectors.study_stylized_groups()
    context = {
        "form": form,
        "groups": selectors.study_restoration_groups(),
        "style_groups": style_groups,
        # A new form ticks every restoration, unless stylized images could be chosen instead
        # (one kind per study: ticking both would only be refused).
        "preselect": not form.is_bound and not style_groups,
        "artworks": selectors.study_artwork_choices(),
        "selected": {str(value) for value in form["restorations"].value() or []},
        "selected_artworks": {str(value) for value in form["artworks"].value() or []},
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "gallery/studies/create.html", context, status=status)


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _presented(study: UserStudy, results: dict) -> dict:
    """Table rows in percent and the three charts of the results page."""
    rows = results["engines"]
    table = [
        {
            **row,
            "share_pct": _percent(row["share"].value),
            "share_low_pct": _percent(row["share"].low),
            "share_high_pct": _percent(row["share"].high),
        }
        for row in rows
    ]
    shares = [
        Bar(row["engine"], row["share"].value, row["share"].low, row["share"].high, group=i)
        for i, row in enumerate(rows)
    ]
    scale = [
        Bar(
            row["engine"],
            row["scale"].value,
            row["scale"].low,
            row["scale"].high,
            group=i,
            note="no interval" if row["scale"].note else "",
        )
        for i, row in enumerate(rows)
    ]
    ends = [abs(x) for bar in scale for x in (bar.value, bar.low, bar.high) if x is not None]
    reach = max(1, math.ceil(max(ends, default=1)))
    return {
        "table": table,
        "not_sure_pct": _percent(results["not_sure"]["share"].value),
        "share_chart": interval_chart(
            shares, lo=0, hi=1, title="Vote share with 95% Wilson interval", ticks=(0, 0.5, 1)
        ),
        "scale_chart": interval_chart(
            scale, lo=-reach, hi=reach, title="Bradley-Terry scale", ticks=(-reach, 0, reach)
        ),
        "timeline_chart": _timeline(study, results["timeline"], _excluded_note(results)),
    }


def _excluded_note(results: dict) -> str:
    """How the timeline's total (every first vote) relates to the votes counted in the shares."""
    excluded = results["attention"]["excluded_votes"]
    if not excluded:
        return "all counted"
    return (
        f"{results['counted']} counted; {excluded} from participants who failed the attention "
        "check are not"
    )


def _timeline(study: UserStudy, daily: list[tuple], note: str) -> str:
    # A study that ran within one day would be a single point per day: show its hours instead
    # (and a single hour is drawn as one labelled bar).
    if len(daily) == 1:
        hourly = selectors.study_vote_timeline(study=study, hourly=True)
        return timeline_chart(hourly, title="Votes per hour, cumulative", note=note)
    return timeline_chart(daily, title="Votes per day, cumulative", note=note)


@curator_required
@require_GET
def study_results(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(UserStudy, pk=pk)
    results = selectors.study_results(study=study)
    context = {"study": study, "results": results, **_presented(study, results)}
    return render(request, "gallery/studies/results.html", context)


@curator_required
@require_POST
def study_open(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(UserStudy, pk=pk)
    try:
        services.study_open(study=study, user=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "The study is open: visitors can vote now.")
    return redirect("gallery:study_results", study.pk)


@curator_required
@require_POST
def study_close(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(UserStudy, pk=pk)
    try:
        services.study_close(study=study, user=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "The study is closed: no more votes are taken.")
    return redirect("gallery:study_results", study.pk)


@curator_required
@require_GET
def study_votes_csv(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(UserStudy, pk=pk)
    return csv_response(
        filename=f"study-{study.slug}-votes.csv",
        header=selectors.VOTE_COLUMNS,
        rows=selectors.study_vote_rows(study=study),
    )


urlpatterns = [
    path("studies/<slug:slug>/", study_detail, name="study_detail"),
    path("studies/<slug:slug>/vote/", study_vote, name="study_vote"),
    path("studies/<slug:slug>/vote/<id:position>/", study_trial, name="study_trial"),
    path("studies/<slug:slug>/thanks/", study_thanks, name="study_thanks"),
    path("studies/candidates/<str:token>.jpg", study_candidate_image, name="study_candidate_image"),
    path("studies/trials/<id:pk>/input.jpg", study_input_image, name="study_input_image"),
    path("manage/studies/", study_manage_list, name="study_manage_list"),
    path("manage/studies/new/", study_create, name="study_create"),
    path("manage/studies/<id:pk>/", study_results, name="study_results"),
    path("manage/studies/<id:pk>/open/", study_open, name="study_open"),
    path("manage/studies/<id:pk>/close/", study_close, name="study_close"),
    path("manage/studies/<id:pk>/votes.csv", study_votes_csv, name="study_votes_csv"),
]
