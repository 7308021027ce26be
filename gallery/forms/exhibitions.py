"""Forms of the exhibition pages: visitors' filters and the curators' editing forms."""

from django import forms

from gallery.models import Exhibition
from heritage.ids import IdModelChoiceField, parse_id
from heritage.models import Motif
from restoration.models import Restoration, Task


class ExhibitionFilterForm(forms.Form):
    """Site, era and style filters; a value the list does not offer is kept, and matches nothing.

    Keeping it shows the visitor what they asked for (an old bookmark, a typed URL) instead of
    silently showing everything.
    """

    site = forms.ChoiceField(required=False)
    era = forms.ChoiceField(required=False)
    style = forms.ChoiceField(required=False)

    def __init__(self, data=None, *, choices: dict[str, list]):
        super().__init__(data)
        data = data or {}
        offered = {
            "site": [(str(site.pk), site.name) for site in choices["sites"]],
            "era": [(era, era) for era in choices["eras"]],
            "style": [(style, style) for style in choices["styles"]],
        }
        blank = {"site": "All sites", "era": "All eras", "style": "All styles"}
        for name, options in offered.items():
            chosen = data.get(name, "")
            if chosen and chosen not in dict(options):
                options.append((chosen, f"{chosen} (not in any exhibition)"))
            self.fields[name].choices = [("", blank[name]), *options]

    def clean_site(self) -> str:
        site = self.cleaned_data["site"]
        if site and parse_id(site) is None:
            raise forms.ValidationError(
                "A site is given by its numeric id, from the list of sites.", code="bad_site"
            )
        return site

    def filters(self) -> dict:
        """Keyword arguments of the exhibition selectors; empty when nothing is chosen.

        A malformed site (its error shown on the page, answered with 400) matches nothing, like
        an unknown value; the other filters still apply.
        """
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        filters: dict = {"era": data.get("era", ""), "style": data.get("style", "")}
        site = self.data.get("site", "")
        if site:
            # No site has id 0.
            filters["site"] = parse_id(site) or 0
        return filters

    @property
    def active(self) -> bool:
        return any(self.filters().get(name) not in (None, "") for name in ("site", "era", "style"))


class ExhibitionForm(forms.Form):
    """The texts of an exhibition; a plain form, so the service alone validates and saves."""

    title = forms.CharField(max_length=300)
    slug = forms.SlugField(
        label="Web address",
        required=False,
        max_length=120,
        help_text="The last part of the exhibition's address; made from the title when empty.",
    )
    summary = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or two sentences for the exhibition's card.",
    )
    text = forms.CharField(
        label="Introduction",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Shown above the works; blank lines separate paragraphs.",
    )
    credits = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    licence = forms.CharField(
        required=False, max_length=300, help_text="e.g. Images CC BY-NC 4.0, text CC BY 4.0"
    )

    @classmethod
    def initial_of(cls, exhibition: Exhibition) -> dict[str, str]:
        return {name: getattr(exhibition, name) for name in cls.base_fields}


class _RestorationChoice(IdModelChoiceField):
    def label_from_instance(self, obj: Restoration) -> str:
        # Curators only: they may see engines; visitors never get this form.
        made = "stylized by " if obj.task == Task.STYLIZE else ""
        return f"{obj.job.motif.title} — {made}{obj.engine} #{obj.pk}"


class EntryAddForm(forms.Form):
    motif = IdModelChoiceField(queryset=Motif.objects.none(), empty_label="(choose a motif)")
    restoration = _RestorationChoice(
        queryset=Restoration.objects.none(),
        required=False,
        empty_label="None: show the motif as photographed",
        help_text="Must be a restoration of the motif chosen above.",
    )
    caption = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, motifs, restorations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["motif"].queryset = motifs
        self.fields["restoration"].queryset = restorations


class EntryUpdateForm(forms.Form):
    restoration = _RestorationChoice(
        queryset=Restoration.objects.none(),
        required=False,
        empty_label="None: as photographed",
    )
    caption = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, restorations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["restoration"].queryset = restorations


class EntryMoveForm(forms.Form):
    offset = forms.TypedChoiceField(choices=[("-1", "up"), ("1", "down")], coerce=int)
