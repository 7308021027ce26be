"""Choices picked by id: an id no database holds is refused like any other wrong choice."""

import pytest
from django import forms

from heritage.ids import IdModelChoiceField, IdModelMultipleChoiceField
from heritage.models import Motif, Site
from restoration.forms import TrainingRunForm

PAST_64_BITS = "99999999999999999999"


@pytest.fixture
def site(db):
    return Site.objects.create(name="Cave 45")


@pytest.mark.parametrize("value", [PAST_64_BITS, str(2**63), "0", "-3"])
def test_an_id_no_database_holds_is_an_invalid_choice(site, value):
    one = IdModelChoiceField(queryset=Site.objects.all())
    many = IdModelMultipleChoiceField(queryset=Site.objects.all())
    with pytest.raises(forms.ValidationError) as single:
        one.clean(value)
    assert single.value.code == "invalid_choice"
    with pytest.raises(forms.ValidationError) as several:
        many.clean([str(site.pk), value])
    assert several.value.code == "invalid_choice"


def test_real_ids_and_django_messages_are_kept(site):
    assert IdModelChoiceField(queryset=Site.objects.all()).clean(str(site.pk)) == site
    assert list(IdModelMultipleChoiceField(queryset=Site.objects.all()).clean([site.pk])) == [site]
    with pytest.raises(forms.ValidationError) as text:
        IdModelMultipleChoiceField(queryset=Site.objects.all()).clean(["abc"])
    assert text.value.code == "invalid_pk_value"


def test_the_training_form_refuses_an_id_past_64_bits_instead_of_querying_it(db):
    # SQLite cannot compare integers past 64 bits: the form used to send it and answer 500.
    form = TrainingRunForm(
        {"engine": "prior_diffusion", "motifs": [PAST_64_BITS], "steps": 10},
        engines=("prior_diffusion",),
        motifs=Motif.objects.all(),
    )
    assert not form.is_valid()
    assert "motifs" in form.errors


def test_choices_picked_by_another_models_id_refuse_ids_no_database_holds(site):
    # Results are picked by their job's number (to_field_name="job_id"): still an id.
    from restoration.models import Restoration

    one = IdModelChoiceField(queryset=Restoration.objects.all(), to_field_name="job_id")
    many = IdModelMultipleChoiceField(queryset=Restoration.objects.all(), to_field_name="job_id")
    with pytest.raises(forms.ValidationError) as single:
        one.clean(PAST_64_BITS)
    assert single.value.code == "invalid_choice"
    with pytest.raises(forms.ValidationError) as several:
        many.clean(["1", PAST_64_BITS])
    assert several.value.code == "invalid_choice"
    # A text field is no id: a number there is just text that matches no site.
    by_name = IdModelChoiceField(queryset=Site.objects.all(), to_field_name="name")
    assert by_name.clean("Cave 45") == site
    with pytest.raises(forms.ValidationError) as text:
        by_name.clean("0")
    assert text.value.code == "invalid_choice"
