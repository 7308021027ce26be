"""{{ restoration|job_name }}: how curators' pickers name a result, as its job page does."""

from django import template

from gallery.forms import choices

register = template.Library()


@register.filter
def job_name(restoration) -> str:
    """ "Restoration #12" or "Style transfer #12": the job's number, never the result's id."""
    return choices.job_name(restoration)
