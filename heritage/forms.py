"""Forms of the catalogue pages: upload, metadata, filters, mask import and simulation."""

from django import forms

from heritage.models import NOTES_MAX_LENGTH, DamageAnnotation, DamageKind, Motif, Site
from heritage.services import MOTIF_TEXT_FIELDS


class MotifMetadataForm(forms.ModelForm):
    site = forms.ModelChoiceField(
        queryset=Site.objects.all(),
        required=False,
        empty_label="(choose a site, or name a new one below)",
    )
    new_site = forms.CharField(
        label="New site",
        max_length=200,
        required=False,
        help_text="e.g. Mogao Cave 285, Huashan cliff section 2",
    )

    class Meta:
        model = Motif
        fields = ["title", "kind", "site", *MOTIF_TEXT_FIELDS[1:]]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "kind": "An artwork (mural, rock art, painting) to restore, or a photograph "
            "(a landscape, say) to render in a painting style."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Clients that predate kinds post none: a new motif is an artwork, an edit keeps it.
        self.fields["kind"].required = False

    def clean_kind(self) -> str:
        kind = self.cleaned_data.get("kind")
        if kind:
            return kind
        return self.instance.kind if self.instance.pk else Motif.Kind.ARTWORK

    def clean(self):
        data = super().clean()
        if not data.get("site") and not data.get("new_site", "").strip():
            self.add_error("site", "Choose the site of the motif or name a new one.")
        return data


class MotifUploadForm(MotifMetadataForm):
    image = forms.FileField(
        label="Photograph",
        help_text="JPEG, PNG, TIFF or WebP; the file is stored untouched.",
        widget=forms.ClearableFileInput(attrs={"accept": ".jpg,.jpeg,.png,.tif,.tiff,.webp"}),
    )
    field_order = ["image", "title", "kind", "site", "new_site"]


class MotifFilterForm(forms.Form):
    q = forms.CharField(label="Search titles", required=False)
    site = forms.ModelChoiceField(
        queryset=Site.objects.all(), required=False, empty_label="All sites"
    )
    era = forms.CharField(required=False)
    style = forms.CharField(required=False)
    kind = forms.ChoiceField(
        choices=[("", "Artworks and photographs"), *Motif.Kind.choices], required=False
    )


def notes_field(**kwargs) -> forms.CharField:
    """Notes of a damage annotation, at most NOTES_MAX_LENGTH characters."""
    return forms.CharField(
        required=False,
        max_length=NOTES_MAX_LENGTH,
        error_messages={
            "max_length": f"Notes may be at most {NOTES_MAX_LENGTH:,} characters "
            "(these have %(show_value)s)."
        },
        **kwargs,
    )


class KindsField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            choices=DamageKind.choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            **kwargs,
        )


class MaskImportForm(forms.Form):
    mask = forms.FileField(help_text="A black-and-white PNG of the motif's size; white = damaged.")
    # Ticked on the page; a script that leaves it out is told it may send resize=true.
    resize = forms.BooleanField(
        required=False,
        initial=True,
        label="Resize a mask of the motif's proportions but another size",
        help_text="e.g. a 512 × 512 mask of a 720 × 720 motif, scaled with nearest neighbour; "
        "a mask of other proportions is refused.",
    )
    kinds = KindsField(label="Damage kinds")
    notes = notes_field(widget=forms.Textarea(attrs={"rows": 2}))


class SimulateDamageForm(forms.Form):
    protocol = forms.ChoiceField(choices=DamageAnnotation.Protocol.choices)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)


class MaskSaveForm(forms.Form):
    """What the damage editor posts when the curator saves."""

    mask = forms.FileField()
    kinds = KindsField()
    notes = notes_field()
    method = forms.ChoiceField(
        choices=[("drawn", "drawn"), ("segmented", "segmented"), ("imported", "imported")]
    )
    supersedes = forms.IntegerField(required=False)
