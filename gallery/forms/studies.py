"""Forms of user studies: a curator setting one up, a visitor's vote."""

from django import forms

from gallery.forms.choices import ResultMultipleChoiceField
from gallery.models import STYLE_QUESTION
from heritage.ids import IdField, IdModelMultipleChoiceField
from heritage.models import Motif
from restoration.models import Restoration, RestorationJob

DEFAULT_QUESTION = "Which image best represents the original artwork?"
# The value of the "Not sure" button; candidate tokens are 16 URL-safe characters, never this.
NOT_SURE = "not-sure"
RETIRE_AFTER_MAX = 2**31 - 1


class StudyCreateForm(forms.Form):
    title = forms.CharField(max_length=300)
    question = forms.CharField(
        max_length=500,
        initial=DEFAULT_QUESTION,
        help_text="Asked above every image set; keep it short and neutral. For stylized "
        f"images, for example: “{STYLE_QUESTION}”",
    )
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to visitors on the study's front page.",
    )
    slug = forms.SlugField(
        max_length=100,
        required=False,
        label="Web address",
        help_text="Part of the public link; made from the title when left empty.",
    )
    show_input = forms.BooleanField(
        required=False, initial=True, label="Show the input above the candidates"
    )
    allow_not_sure = forms.BooleanField(required=False, initial=True, label='Offer "Not sure"')
    retire_after = forms.IntegerField(
        min_value=1,
        # The column is a PositiveIntegerField: 2**31 - 1 on PostgreSQL.
        max_value=RETIRE_AFTER_MAX,
        error_messages={
            "max_value": f"Retire after at most {RETIRE_AFTER_MAX:,} votes, or leave it empty."
        },
        required=False,
        label="Retire an image set after this many votes",
        help_text="Empty: every image set stays in the study until it closes.",
    )
    attention_check = forms.BooleanField(
        required=False,
        label="Attention check",
        help_text="Show each participant one earlier image set again, reshuffled; participants "
        "who answer it differently are left out of the results.",
    )
    open_now = forms.BooleanField(required=False, label="Open to visitors at once")
    restorations = ResultMultipleChoiceField(
        queryset=Restoration.objects.filter(job__status=RestorationJob.Status.SUCCEEDED),
        widget=forms.CheckboxSelectMultiple,
        help_text="Each damaged input becomes one image set, its restorations the candidates; "
        "or each photograph, its stylized images the candidates. One kind per study.",
        error_messages={"required": "Choose the restorations to compare."},
    )
    artworks = IdModelMultipleChoiceField(
        queryset=Motif.objects.filter(kind=Motif.Kind.ARTWORK),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Real paintings",
        help_text="Optional, for stylized images only: each painting joins every image set as "
        "one more candidate. Participants are not told which images are paintings.",
    )


class VoteForm(forms.Form):
    """What the voting page posts back: the trial, the order it was shown in, the choice."""

    trial = IdField()
    # Hidden, not a checkbox: a checkbox widget would read the posted "0" as ticked.
    repeat = forms.BooleanField(required=False, widget=forms.HiddenInput)
    shown = forms.CharField(max_length=1000)
    choice = forms.CharField(max_length=32)

    def clean_shown(self) -> list[str]:
        return [token for token in self.cleaned_data["shown"].split(",") if token]

    def clean_choice(self) -> str | None:
        choice = self.cleaned_data["choice"]
        return None if choice == NOT_SURE else choice
