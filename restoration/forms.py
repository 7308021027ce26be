"""Forms of the restoration pages: launching a job on an annotation."""

from django import forms

from heritage.models import DamageAnnotation, Motif
from restoration.models import ModelCheckpoint


class JobCreateForm(forms.Form):
    annotation = forms.ModelChoiceField(queryset=DamageAnnotation.objects.none())
    engine = forms.ChoiceField()
    # Offered per engine by the panel; services.job_create refuses one of another engine and
    # takes the engine's default when none is chosen.
    checkpoint = forms.ModelChoiceField(queryset=ModelCheckpoint.objects.all(), required=False)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    colour_correction = forms.BooleanField(
        required=False,
        label="Colour correction",
        help_text="Match the tone of restored areas to the intact pixels around them.",
    )

    def __init__(self, *args, motif: Motif, engines: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        annotations = DamageAnnotation.objects.filter(motif=motif, superseded_by__isnull=True)
        self.fields["annotation"].queryset = annotations
        self.fields["annotation"].empty_label = None
        self.fields["annotation"].initial = annotations.order_by("-created_at", "-id").first()
        self.fields["annotation"].label_from_instance = _annotation_label
        self.fields["engine"].choices = [(name, name) for name in engines]

    def engine_params(self, data) -> dict[str, str]:
        """The submitted `param-<engine>-<name>` fields of the chosen engine, as strings."""
        prefix = f"param-{self.cleaned_data['engine']}-"
        return {
            key[len(prefix) :]: value
            for key, value in data.items()
            if key.startswith(prefix) and value != ""
        }


def _annotation_label(annotation: DamageAnnotation) -> str:
    label = f"#{annotation.pk} {annotation.get_method_display().lower()}"
    if annotation.is_simulated:
        label += f" ({annotation.protocol}, seed {annotation.seed}; ground truth known)"
    return f"{label}, {annotation.coverage:.0%} damaged"
