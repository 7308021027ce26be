"""Forms of the catalogue pages: upload, metadata, filters, mask import and simulation."""

from django import forms
from django.core.exceptions import ValidationError

from heritage import services
from heritage.ids import IdModelChoiceField
from heritage.models import NOTES_MAX_LENGTH, DamageAnnotation, DamageKind, Motif, Site
from heritage.services import MOTIF_TEXT_FIELDS

# The <datalist> ids of the era and style suggestions (values already in the catalogue).
ERA_SUGGESTIONS = "era-suggestions"
STYLE_SUGGESTIONS = "style-suggestions"


class MotifMetadataForm(forms.ModelForm):
    site = IdModelChoiceField(
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
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            # Suggest the spellings in use, so "Tang" and "Tang dynasty" do not split a filter.
            "era": forms.TextInput(attrs={"list": ERA_SUGGESTIONS, "autocomplete": "off"}),
            "style": forms.TextInput(attrs={"list": STYLE_SUGGESTIONS, "autocomplete": "off"}),
        }
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


class PhotographInput(forms.FileInput):
    """The file input of the upload form; not `required` in the page when a file is kept."""

    kept = False

    def use_required_attribute(self, initial) -> bool:
        return super().use_required_attribute(initial) and not self.kept


class MotifUploadForm(MotifMetadataForm):
    """A new motif: the image's checks (size, duplicate, decoding) run with the metadata's, so
    one submission reports every error once. After is_valid(), `checked_image` holds what
    services.motif_image_check found (pass it to motif_create) and `duplicate` the catalogued
    motif with the same bytes, if any."""

    image = forms.FileField(
        label="Photograph",
        help_text="JPEG, PNG, TIFF or WebP; the file is stored untouched.",
        widget=PhotographInput(attrs={"accept": ".jpg,.jpeg,.png,.tif,.tiff,.webp"}),
    )
    field_order = ["image", "title", "kind", "site", "new_site"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.checked_image: services.CheckedImage | None = None
        self.duplicate: Motif | None = None

    def clean_image(self):
        image = self.cleaned_data["image"]
        try:
            self.checked_image = services.motif_image_check(file=image)
        except services.DuplicateMotif as exc:
            self.duplicate = exc.existing
            raise ValidationError(exc.messages, code="duplicate") from exc
        return image


class MotifFilterForm(forms.Form):
    q = forms.CharField(label="Search titles", required=False)
    site = IdModelChoiceField(queryset=Site.objects.all(), required=False, empty_label="All sites")
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
