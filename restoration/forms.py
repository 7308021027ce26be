"""Forms of the restoration pages: launching a restoration or a style transfer, training."""

from django import forms

from heritage.ids import IdModelChoiceField, IdModelMultipleChoiceField
from heritage.models import DamageAnnotation, Motif
from restoration import training_runs, training_selectors
from restoration.models import ModelCheckpoint


class EngineJobForm(forms.Form):
    """What every job form asks: engine, its checkpoint, a seed, and the engine's parameters."""

    engine = forms.ChoiceField()
    # Offered per engine by the panel; services refuse one of another engine and take the
    # engine's default when none is chosen.
    checkpoint = IdModelChoiceField(queryset=ModelCheckpoint.objects.all(), required=False)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def __init__(self, *args, engines: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["engine"].choices = [(name, name) for name in engines]

    def engine_params(self, data) -> dict[str, str]:
        """The submitted `param-<engine>-<name>` fields of the chosen engine, as strings."""
        prefix = f"param-{self.cleaned_data['engine']}-"
        return {
            key[len(prefix) :]: value
            for key, value in data.items()
            if key.startswith(prefix) and value != ""
        }


class JobCreateForm(EngineJobForm):
    """Launch a restoration of one of the motif's damage annotations."""

    annotation = IdModelChoiceField(queryset=DamageAnnotation.objects.none())
    colour_correction = forms.BooleanField(
        required=False,
        label="Colour correction",
        help_text="Match the tone of restored areas to the intact pixels around them.",
    )

    def __init__(self, *args, motif: Motif, engines: list[str], **kwargs):
        super().__init__(*args, engines=engines, **kwargs)
        annotations = DamageAnnotation.objects.filter(motif=motif, superseded_by__isnull=True)
        self.fields["annotation"].queryset = annotations
        self.fields["annotation"].empty_label = None
        self.fields["annotation"].initial = annotations.order_by("-created_at", "-id").first()
        self.fields["annotation"].label_from_instance = _annotation_label


class StyleJobForm(EngineJobForm):
    """Launch a style transfer of a whole motif (engines whose task is "stylize")."""


def _annotation_label(annotation: DamageAnnotation) -> str:
    label = f"#{annotation.pk} {annotation.get_method_display().lower()}"
    if annotation.is_simulated:
        label += f" ({annotation.protocol}, seed {annotation.seed}; ground truth known)"
    return f"{label}, {annotation.coverage:.0%} damaged"


class TrainingRunForm(forms.Form):
    """Start a training run: engine, motifs and the options the CLI takes."""

    engine = forms.ChoiceField()
    motifs = IdModelMultipleChoiceField(
        queryset=Motif.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Motifs with recorded real damage give only their intact areas.",
    )
    size = forms.IntegerField(label="Crop size (px)", initial=128)
    steps = forms.IntegerField(initial=2000)
    batch = forms.IntegerField(initial=8)
    lr = forms.FloatField(label="Learning rate", initial=2e-4)
    seed = forms.IntegerField(initial=0)
    sample_every = forms.IntegerField(label="Sample every (steps)", initial=100)
    # Offered by __init__: prior_diffusion checkpoints with the pixel backbone. Any id passes the
    # field, so the service can say why another engine's checkpoint does not fit.
    start_from = IdModelChoiceField(
        queryset=ModelCheckpoint.objects.all(),
        required=False,
        empty_label="a new network",
        label="Start from",
        help_text=(
            "Fine-tune registered weights (what a few motifs need), or train a new network."
        ),
        error_messages={
            "invalid_choice": "No registered checkpoint has the id %(value)s: choose one of "
            "the list, or a new network."
        },
    )
    widths = forms.CharField(
        label="U-Net widths",
        required=False,
        help_text="A new network's channels per level, e.g. 64,96,128,192 (empty: the default).",
    )
    # Style engines (cyclegan, cut): `motifs` are domain A (photographs), these domain B.
    domain_b = IdModelMultipleChoiceField(
        queryset=Motif.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Domain B: paintings in the target style",
    )
    variant = forms.ChoiceField(
        choices=[("", "the engine's own"), ("cut", "CUT"), ("fastcut", "FastCUT")],
        required=False,
        help_text="cut only: CUT or its faster FastCUT variant.",
    )
    ngf = forms.IntegerField(
        label="Generator width (ngf)", required=False, help_text="Style engines; empty: 64."
    )
    n_blocks = forms.IntegerField(
        label="Residual blocks", required=False, help_text="Style engines; empty: 9."
    )

    STYLE_ONLY = ("domain_b", "variant", "ngf", "n_blocks")
    RESTORE_ONLY = ("start_from", "widths")

    def __init__(
        self, *args, engines: tuple[str, ...], motifs, style_engines: tuple[str, ...] = (), **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.style_engines = style_engines
        self.fields["engine"].choices = [(name, name) for name in engines]
        self.fields["motifs"].queryset = motifs
        self.fields["motifs"].label_from_instance = _motif_label
        self.fields["domain_b"].queryset = motifs
        self.fields["domain_b"].label_from_instance = _motif_label
        starts = training_selectors.training_start_choices()
        self.fields["start_from"].choices = [("", "a new network")] + [
            (start.pk, _start_label(start)) for start in starts
        ]
        self.fields["start_from"].initial = next((s.pk for s in starts if s.is_default), None)

    def is_style(self) -> bool:
        return self.cleaned_data.get("engine") in self.style_engines

    def run_motifs(self) -> list[Motif]:
        """Every motif the run trains on: for a style engine, both domains."""
        motifs = list(self.cleaned_data["motifs"])
        if self.is_style():
            motifs += list(self.cleaned_data["domain_b"])
        return motifs

    def clean_widths(self) -> list[int] | None:
        text = self.cleaned_data["widths"].strip()
        if not text:
            return None
        try:
            return [int(part) for part in text.split(",")]
        except ValueError:
            raise forms.ValidationError(
                "Widths are whole numbers separated by commas, e.g. 64,96,128,192."
            ) from None

    def clean(self):
        data = super().clean()
        if not self.is_style() and data.get("start_from") and data.get("widths"):
            self.add_error("widths", training_runs.WIDTHS_WITH_START)
        return data

    def options(self) -> dict:
        """The run's options, for restoration.training_runs (which validates them)."""
        data = self.cleaned_data
        options = {key: data[key] for key in ("size", "steps", "batch", "lr", "seed")}
        options["sample_every"] = data["sample_every"]
        if self.is_style():
            options["domain_a"] = [motif.pk for motif in data["motifs"]]
            options["domain_b"] = [motif.pk for motif in data["domain_b"]]
            for key in ("variant", "ngf", "n_blocks"):
                if data[key] not in (None, ""):
                    options[key] = data[key]
        else:
            if data["widths"]:
                options["architecture"] = {"block_out_channels": data["widths"]}
            if data["start_from"]:
                options["init_checkpoint"] = data["start_from"].pk
        return options


class TrainingResumeForm(forms.Form):
    steps = forms.IntegerField(min_value=1, label="Train up to step")


def _start_label(checkpoint: ModelCheckpoint) -> str:
    notes = [f"sha256 {checkpoint.sha256[:12]}"] if checkpoint.sha256 else []
    if checkpoint.is_default:
        notes.append("the default")
    return f"{checkpoint.name} ({', '.join(notes)})" if notes else checkpoint.name


def _motif_label(motif: Motif) -> str:
    damage = getattr(motif, "real_damage", 0)
    note = f" · real damage recorded ({damage}): intact areas only" if damage else ""
    return f"{motif.title} ({motif.width} × {motif.height}){note}"
