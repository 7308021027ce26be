"""Forms of the exhibition pages: visitors' filters and the curators' editing forms."""

from django import forms

from gallery.forms.choices import ResultChoiceField, ResultThumbnailSelect, job_name
from gallery.models import Exhibition
from heritage.ids import IdModelChoiceField, parse_id
from heritage.models import Motif
from restoration.models import Restoration


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


def _result_field(**kwargs) -> ResultChoiceField:
    return ResultChoiceField(
        queryset=Restoration.objects.none(),
        required=False,
        blank=True,
        widget=ResultThumbnailSelect,
        label="Result shown",
        **kwargs,
    )


def _refuse_other_motifs(form: forms.Form, motif: Motif | None) -> None:
    """A result of another motif is refused by name; the page lists each motif's own."""
    restoration = form.cleaned_data.get("restoration")
    if motif is None or restoration is None or restoration.job.motif_id == motif.pk:
        return
    form.add_error(
        "restoration",
        forms.ValidationError(
            "%(job)s is a result of “%(other)s”, not of “%(motif)s”: choose one of the "
            "motif's own results, or none to show it as photographed.",
            code="wrong_motif",
            params={
                "job": job_name(restoration),
                "other": restoration.job.motif.title,
                "motif": motif.title,
            },
        ),
    )


class EntryAddForm(forms.Form):
    """A motif and, optionally, one of its results (picked by job number), with a caption."""

    motif = IdModelChoiceField(
        queryset=Motif.objects.none(),
        empty_label="(choose a motif)",
        error_messages={
            "required": "Choose a motif.",
            "invalid_choice": "There is no motif #%(value)s: choose one from the list.",
        },
    )
    restoration = _result_field(empty_label="None: show the motif as photographed")
    caption = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, motifs, restorations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["motif"].queryset = motifs
        self.fields["restoration"].queryset = restorations

    def clean(self) -> dict:
        data = super().clean()
        _refuse_other_motifs(self, data.get("motif"))
        return data


class EntryUpdateForm(forms.Form):
    """The result an entry shows (one of its motif's, by job number) and its caption."""

    restoration = _result_field(empty_label="None: as photographed")
    caption = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, motif: Motif, restorations, **kwargs):
        super().__init__(*args, **kwargs)
        self.motif = motif
        self.fields["restoration"].queryset = restorations

    def clean(self) -> dict:
        data = super().clean()
        _refuse_other_motifs(self, self.motif)
        return data


class EntryMoveForm(forms.Form):
    offset = forms.TypedChoiceField(choices=[("-1", "up"), ("1", "down")], coerce=int)
