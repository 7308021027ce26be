"""Template tags that put restoration panels on catalogue pages."""

from django import template

from heritage.models import Motif
from restoration import checkpoints, selectors
from restoration.engines.base import EngineError
from restoration.engines.registry import registry
from restoration.forms import JobCreateForm
from restoration.models import Task

register = template.Library()


def _engines(task: str) -> tuple[list[dict], list[str]]:
    """Described engines of `task` with their checkpoints, and the problems of broken ones
    (counted with the restoration engines, whose panel has always named them)."""
    engines, broken = [], []
    by_engine = checkpoints.by_engine()
    for name in registry().names():
        try:
            described = registry().describe(name)
        except EngineError as exc:
            # One misconfigured engine must not take the motif page down with it.
            if task == Task.RESTORE:
                broken.append(str(exc))
            continue
        if described["task"] != task:
            continue
        described["checkpoints"] = by_engine.get(name, [])
        engines.append(described)
    return engines, broken


@register.inclusion_tag("restoration/_motif_panel.html", takes_context=True)
def motif_restoration_panel(context, motif):
    """Launch form and job list of restorations of a motif, shown to curators on the motif
    page; a photograph without damage annotations has none to offer."""
    user = context["request"].user
    if not selectors.user_can_see_jobs(user=user):
        return {"visible": False}
    form_engines, broken = _engines(Task.RESTORE)
    # Its own ids: the motif page also has the damage simulation form, with a seed of its own.
    form = JobCreateForm(
        motif=motif, engines=[engine["name"] for engine in form_engines], auto_id="id_restore_%s"
    )
    jobs = selectors.job_list_for_motif(motif=motif, task=Task.RESTORE)[:20]
    if (
        motif.kind == Motif.Kind.PHOTOGRAPH
        and not jobs
        and not form.fields["annotation"].queryset.exists()
    ):
        return {"visible": False}
    return {
        "visible": True,
        "motif": motif,
        "form": form,
        "engines": form_engines,
        "broken": broken,
        "jobs": jobs,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("restoration/_style_panel.html", takes_context=True)
def motif_style_panel(context, motif):
    """Launch form (style engines and their checkpoints) and job list of style transfers of a
    motif, for curators: open on a photograph, folded away on an artwork."""
    user = context["request"].user
    if not selectors.user_can_see_jobs(user=user):
        return {"visible": False}
    engines, _ = _engines(Task.STYLIZE)
    # Engines that can run now first (weights registered, or none needed): the form opens on one.
    engines.sort(key=lambda engine: engine["needs_weights"] and not engine["checkpoints"])
    jobs = selectors.job_list_for_motif(motif=motif, task=Task.STYLIZE)[:20]
    photograph = motif.kind == Motif.Kind.PHOTOGRAPH
    return {
        "visible": photograph or bool(engines) or bool(jobs),
        "photograph": photograph,
        "motif": motif,
        "engines": engines,
        "broken": [],
        "jobs": jobs,
        "csrf_token": context.get("csrf_token"),
    }
