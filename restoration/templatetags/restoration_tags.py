"""Template tags that put restoration panels on catalogue pages."""

from django import template

from restoration import checkpoints, selectors
from restoration.engines.base import EngineError
from restoration.engines.registry import registry
from restoration.forms import JobCreateForm

register = template.Library()


@register.inclusion_tag("restoration/_motif_panel.html", takes_context=True)
def motif_restoration_panel(context, motif):
    """Launch form and job list for a motif, shown to curators on the motif page."""
    user = context["request"].user
    if not selectors.user_can_see_jobs(user=user):
        return {"visible": False}
    engines, broken = [], []
    by_engine = checkpoints.by_engine()
    for name in registry().names():
        try:
            described = registry().describe(name)
        except EngineError as exc:
            # One misconfigured engine must not take the motif page down with it.
            broken.append(str(exc))
            continue
        described["checkpoints"] = by_engine.get(name, [])
        engines.append(described)
    return {
        "visible": True,
        "motif": motif,
        "form": JobCreateForm(motif=motif, engines=[engine["name"] for engine in engines]),
        "engines": engines,
        "broken": broken,
        "jobs": selectors.job_list_for_motif(motif=motif)[:20],
        "csrf_token": context.get("csrf_token"),
    }
