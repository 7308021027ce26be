"""Forms of expert review: setting up a campaign, inviting experts, reading a scoring page."""

from django import forms
from django.http import QueryDict

from gallery.models import DEFAULT_RUBRIC, ReviewCampaign
from heritage.models import User
from restoration.models import Restoration


def _experts() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(role=User.Role.EXPERT, is_active=True).order_by("username"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class CampaignCreateForm(forms.Form):
    title = forms.CharField(max_length=300)
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to experts above every item.",
    )
    reference = forms.ChoiceField(
        choices=ReviewCampaign.Reference.choices,
        initial=ReviewCampaign.Reference.DAMAGED,
        widget=forms.RadioSelect,
        label="Reference shown beside each result",
    )
    # Rendered by the template grouped by motif; the queryset only checks what was sent.
    restorations = forms.ModelMultipleChoiceField(
        queryset=Restoration.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one restoration to review."},
    )
    experts = _experts()
    criteria = forms.MultipleChoiceField(
        choices=[(criterion["key"], criterion["label"]) for criterion in DEFAULT_RUBRIC],
        initial=[criterion["key"] for criterion in DEFAULT_RUBRIC],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one criterion to score."},
    )
    open_now = forms.BooleanField(
        required=False, label="Open for scoring now", help_text="Otherwise it stays a draft."
    )


class CampaignInviteForm(forms.Form):
    experts = _experts()

    def __init__(self, *args, queryset=None, **kwargs):
        super().__init__(*args, **kwargs)
        if queryset is not None:
            self.fields["experts"].queryset = queryset
        self.fields["experts"].required = True
        self.fields["experts"].error_messages["required"] = "Choose the experts to invite."


def review_scores(data: QueryDict, *, rubric: list[dict]) -> dict[str, str]:
    """The score of each rubric criterion as posted (field "score-<key>"), "" where none."""
    return {criterion["key"]: data.get(f"score-{criterion['key']}", "") for criterion in rubric}
