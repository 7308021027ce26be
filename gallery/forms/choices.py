"""Results a curator picks, named and chosen by their job's number, as the job pages show it.

A result (Restoration) has an id of its own, but curators know it by its job: "Restoration
#12" heads the job page, the motif page lists its jobs by that number, and the jobs API serves
results under it. The two ids drift apart as soon as a job ends without a result (cancelled,
failed): a picker that showed or took the result's own id would name another job's result.
"""

from django import forms
from django.db.models import QuerySet

from heritage.ids import IdModelChoiceField, IdModelMultipleChoiceField
from heritage.media import restoration_file_url
from restoration.models import Restoration, Task

# Choices are sent and read as the number of the job that made the result.
JOB_NUMBER = "job_id"
UNKNOWN_JOB = (
    "There is no finished job #%(value)s to choose: pick a result from the list, "
    "which names each by its job's number."
)


def job_name(restoration: Restoration) -> str:
    """The job page's own name of the result: "Restoration #12" or "Style transfer #12"."""
    kind = "Style transfer" if restoration.task == Task.STYLIZE else "Restoration"
    return f"{kind} #{restoration.job_id}"


def result_label(restoration: Restoration) -> str:
    """How a curator's picker names a result: "Restoration #12 · telea · Blue horses".

    Curators only: engines are never named to visitors, experts or participants.
    """
    return f"{job_name(restoration)} · {restoration.engine} · {restoration.job.motif.title}"


class ResultChoiceField(IdModelChoiceField):
    """One result, picked by its job's number."""

    def __init__(self, queryset: QuerySet[Restoration], **kwargs):
        kwargs.setdefault("error_messages", {"invalid_choice": UNKNOWN_JOB})
        super().__init__(queryset, to_field_name=JOB_NUMBER, **kwargs)

    def label_from_instance(self, obj: Restoration) -> str:
        return result_label(obj)


class ResultMultipleChoiceField(IdModelMultipleChoiceField):
    """Several results, each picked by its job's number."""

    def __init__(self, queryset: QuerySet[Restoration], **kwargs):
        messages = {
            "invalid_choice": UNKNOWN_JOB,
            "invalid_pk_value": UNKNOWN_JOB.replace("%(value)s", "%(pk)s"),
        }
        kwargs["error_messages"] = {**messages, **kwargs.get("error_messages", {})}
        super().__init__(queryset, to_field_name=JOB_NUMBER, **kwargs)

    def label_from_instance(self, obj: Restoration) -> str:
        return result_label(obj)


class ResultThumbnailSelect(forms.RadioSelect):
    """Radio buttons for results, each option knowing its thumbnail and motif.

    Pages lay the options out themselves (see gallery/exhibitions/_result_choices.html): the
    thumbnail is the result's preview, served by the curators-only restoration file view.
    """

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        restoration = getattr(value, "instance", None)
        option["motif_id"] = restoration.job.motif_id if restoration is not None else None
        option["thumbnail"] = (
            restoration_file_url(restoration, "preview") if restoration is not None else ""
        )
        return option
