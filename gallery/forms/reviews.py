"""Forms of expert review: setting up a campaign, inviting experts, reading a scoring page."""

from django import forms
from django.http import QueryDict

from gallery.forms.choices import ResultMultipleChoiceField
from gallery.models import DEFAULT_RUBRIC, STYLE_RUBRIC, ResultKind, ReviewCampaign
from gallery.results import kind_of
from heritage.ids import IdModelMultipleChoiceField
from heritage.models import User
from restoration.models import Restoration

RESTORATION_REFERENCES = [
    (value, label)
    for value, label in ReviewCampaign.Reference.choices
    if value != ReviewCampaign.Reference.PHOTOGRAPH
]


def _experts() -> IdModelMultipleChoiceField:
    return IdModelMultipleChoiceField(
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
        choices=RESTORATION_REFERENCES,
        initial=ReviewCampaign.Reference.DAMAGED,
        widget=forms.RadioSelect,
        required=False,
        label="Reference shown beside each restoration",
        help_text="Stylized images are always shown beside the photograph they were made from.",
    )
    # Rendered by the template grouped by motif; the queryset only checks what was sent.
    restorations = ResultMultipleChoiceField(
        queryset=Restoration.objects.select_related("job__motif"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one restoration to review."},
    )
    experts = _experts()
    # One rubric per kind of result: the one of the chosen results is used (see clean).
    criteria = forms.MultipleChoiceField(
        choices=[(criterion["key"], criterion["label"]) for criterion in DEFAULT_RUBRIC],
        initial=[criterion["key"] for criterion in DEFAULT_RUBRIC],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Restoration rubric",
    )
    style_criteria = forms.MultipleChoiceField(
        choices=[(criterion["key"], criterion["label"]) for criterion in STYLE_RUBRIC],
        initial=[criterion["key"] for criterion in STYLE_RUBRIC],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Style rubric",
    )
    open_now = forms.BooleanField(
        required=False, label="Open for scoring now", help_text="Otherwise it stays a draft."
    )

    def clean(self) -> dict:
        """Criteria and reference of the kind of the chosen results; mixed kinds are left to
        the service, which refuses them with the reason."""
        data = super().clean()
        style_criteria = data.pop("style_criteria", [])
        # None: the service's default for the kind (the damaged input for restorations).
        data["reference"] = data.get("reference") or None
        restorations = data.get("restorations")
        if not restorations:
            return data
        kinds = {kind_of(restoration) for restoration in restorations}
        if kinds == {ResultKind.STYLIZED}:
            data["criteria"] = style_criteria
            data["reference"] = ReviewCampaign.Reference.PHOTOGRAPH
            field = "style_criteria"
        else:
            field = "criteria"
        if len(kinds) == 1 and not data.get("criteria"):
            self.add_error(field, "Choose at least one criterion to score.")
        return data


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
