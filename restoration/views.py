"""Restoration pages: launch a job, watch it live, see and compare the results."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from heritage.models import DamageAnnotation, Motif
from heritage.views import curator_required
from restoration import selectors, services, training_runs, training_selectors
from restoration.engines.registry import registry
from restoration.forms import JobCreateForm, StyleJobForm, TrainingResumeForm, TrainingRunForm
from restoration.models import RestorationJob, Task, TrainingRun


@curator_required
@require_POST
def job_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Launch a restoration of a motif's annotation (scripts: POST /api/v1/jobs/)."""
    motif = get_object_or_404(Motif, pk=pk)
    form = JobCreateForm(request.POST, motif=motif, engines=registry().names())
    if not form.is_valid():
        return _refuse(request, motif, " ".join(e for errs in form.errors.values() for e in errs))
    data = form.cleaned_data
    try:
        job = services.job_create(
            requested_by=request.user,
            annotation=data["annotation"],
            engine=data["engine"],
            params=form.engine_params(request.POST),
            seed=data["seed"],
            colour_correction=data["colour_correction"],
            checkpoint=data["checkpoint"],
        )
    except ValidationError as exc:
        return _refuse(request, motif, " ".join(exc.messages))
    return redirect(job)


@curator_required
@require_POST
def style_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Launch a style transfer of a whole motif (scripts: POST /api/v1/style-jobs/)."""
    motif = get_object_or_404(Motif, pk=pk)
    form = StyleJobForm(request.POST, engines=registry().names())
    what = "The style transfer"
    if not form.is_valid():
        errors = " ".join(e for errs in form.errors.values() for e in errs)
        return _refuse(request, motif, errors, what=what)
    data = form.cleaned_data
    try:
        job = services.style_job_create(
            requested_by=request.user,
            motif=motif,
            engine=data["engine"],
            params=form.engine_params(request.POST),
            seed=data["seed"],
            checkpoint=data["checkpoint"],
        )
    except ValidationError as exc:
        return _refuse(request, motif, " ".join(exc.messages), what=what)
    return redirect(job)


def _refuse(
    request: HttpRequest, motif: Motif, message: str, *, what: str = "The restoration"
) -> HttpResponse:
    messages.error(request, f"{what} was not started: {message}")
    return redirect(motif)


def _job_or_404(request: HttpRequest, pk: int) -> RestorationJob:
    job = selectors.job_for_user(job_id=pk, user=request.user)
    if job is None:
        raise Http404("No such job.")
    return job


@curator_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request, pk)
    restoration = getattr(job, "result", None) if job.status == job.Status.SUCCEEDED else None
    metric_rows, metric_results = selectors.result_metric_rows(job=job) if restoration else ([], 0)
    return render(
        request,
        "restoration/job_detail.html",
        {
            "job": job,
            # A style transfer: input and output side by side, no damage, outline or metrics.
            "styling": job.task == Task.STYLIZE,
            "motif": job.motif,
            "restoration": restoration,
            "state": selectors.job_state(job=job),
            # Marked where this result is the best of those on the same damage annotation.
            "metric_rows": metric_rows,
            "metric_results": metric_results,
            # A job that ended without a result still says what was asked and how far it got.
            "param_rows": _param_rows(job),
            # A list, not the dict: a key such as "items" would shadow dict methods in templates.
            "info_rows": sorted(restoration.info.items()) if restoration else [],
        },
    )


def _param_rows(job: RestorationJob) -> list[tuple[str, str, object]]:
    """(name, label, value) of the job's parameters, labelled as the engine declares them."""
    from restoration.engines.base import EngineError

    try:
        declared = registry().describe(job.engine)["params"]
    except EngineError:
        declared = {}
    return [
        (key, declared.get(key, {}).get("label") or key, value)
        for key, value in sorted(job.params.items())
    ]


@curator_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request, pk)
    try:
        services.job_cancel(job=job, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, "Cancelling: the engine stops at its next step.")
    return redirect(job)


@curator_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request, pk)
    try:
        retry = services.job_retry(job=job, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(job)
    return redirect(retry)


@curator_required
def compare(request: HttpRequest, pk: int, annotation_pk: int) -> HttpResponse:
    """Every engine's latest result on one annotation, side by side; POST launches the missing."""
    annotation = get_object_or_404(
        DamageAnnotation.objects.select_related("motif"), pk=annotation_pk, motif_id=pk
    )
    engines = selectors.engine_names(task=Task.RESTORE)
    rows = selectors.comparison(annotation=annotation, engines=engines)
    if request.method == "POST":
        missing = [row["engine"] for row in rows if row["missing"]]
        started = []
        for engine in missing:
            # One engine that cannot run (no weights, broken entry) does not stop the others.
            try:
                services.job_create(requested_by=request.user, annotation=annotation, engine=engine)
            except ValidationError as exc:
                messages.error(request, f"{engine}: {' '.join(exc.messages)}")
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                break
            else:
                started.append(engine)
        if started or not missing:
            messages.success(
                request,
                f"Started {len(started)} restoration(s): {', '.join(started) or 'none missing'}.",
            )
        return redirect(request.path)
    return render(
        request,
        "restoration/compare.html",
        {
            "motif": annotation.motif,
            "annotation": annotation,
            "rows": rows,
            "metric_columns": selectors.METRIC_COLUMNS,
            "metric_span": 2 * len(selectors.METRIC_COLUMNS),
            "missing": [row["engine"] for row in rows if row["missing"]],
            # The restoration whose input preview shows the damage (its URL checks the role).
            "input_restoration": next(
                (row["restoration"] for row in rows if row["restoration"]), None
            ),
        },
    )


# --- training runs ------------------------------------------------------------------------


def _training_form(data=None) -> TrainingRunForm:
    return TrainingRunForm(
        data,
        engines=training_runs.UI_TRAINABLE,
        style_engines=training_runs.STYLE_TRAINABLE,
        motifs=training_selectors.training_motif_choices(),
    )


@curator_required
def training_list(request: HttpRequest) -> HttpResponse:
    """The runs so far, and the form that starts one (POST)."""
    form = _training_form(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            run = training_runs.training_run_create(
                requested_by=request.user,
                engine=form.cleaned_data["engine"],
                motifs=form.run_motifs(),
                options=form.options(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(run)
    return render(
        request,
        "restoration/training_list.html",
        {
            "form": form,
            "runs": training_selectors.training_run_list()[:100],
            "min_motifs": settings.TRAINING_MIN_MOTIFS,
            "style_engines": list(training_runs.STYLE_TRAINABLE),
        },
        status=400 if form.errors else 200,
    )


def _run_or_404(request: HttpRequest, pk: int) -> TrainingRun:
    run = training_selectors.training_run_for_user(run_id=pk, user=request.user)
    if run is None:
        raise Http404("No such training run.")
    return run


@curator_required
@require_GET
def training_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_or_404(request, pk)
    state = training_selectors.training_run_state(run=run)
    saved = training_runs.training_run_saved_step(run) if run.is_finished else 0
    motifs = run.motifs.order_by("title")
    domains = None
    if run.engine in training_runs.STYLE_TRAINABLE:
        domains = {
            side: [m for m in motifs if m.pk in set(run.options.get(f"domain_{side}", []))]
            for side in ("a", "b")
        }
    return render(
        request,
        "restoration/training_detail.html",
        {
            "run": run,
            "state": state,
            "motifs": motifs,
            "domains": domains,
            "sample_legend": training_runs.sample_legend(run),
            "start": training_selectors.training_run_start(run=run),
            "saved_step": saved,
            "resume_form": TrainingResumeForm(initial={"steps": max(run.total, saved + 1)}),
        },
    )


@curator_required
@require_POST
def training_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_or_404(request, pk)
    try:
        training_runs.training_run_cancel(run=run, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, "Cancelling: training stops at its next step.")
    return redirect(run)


@curator_required
@require_POST
def training_resume(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_or_404(request, pk)
    form = TrainingResumeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the step to train up to, a whole number.")
        return redirect(run)
    try:
        resumed = training_runs.training_run_resume(
            run=run, user=request.user, steps=form.cleaned_data["steps"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(run)
    return redirect(resumed)


@curator_required
@require_GET
def training_sample(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's latest sample grid (damaged | restored | truth rows), curators only."""
    run = _run_or_404(request, pk)
    if not run.latest_sample:
        raise Http404("No sample yet.")
    try:
        # A small JPEG (pipeline.preview_jpeg), read whole: no sync iterator under ASGI.
        with run.latest_sample.open("rb") as handle:
            data = handle.read()
    except OSError:
        raise Http404("The sample is gone.") from None
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response
