"""The voting page as a form that works without JavaScript (choose, then confirm), and counts
that agree: "Image set N of M" on the way, the same N and M on the thanks page."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from gallery.models import Participant, StudyTrial, StudyVote, UserStudy
from gallery.services import studies as services
from tests.gallery.test_study_views import cast, shown_form, vote_url

pytestmark = pytest.mark.django_db


def make_study(curator, restorations, **options) -> UserStudy:
    return services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        restorations=restorations,
        open_now=True,
        **options,
    )


def progress(html: str) -> str:
    return re.search(r"Image set \d+ of \d+(, shown again)?", html).group()


def thanks_text(client: Client, study: UserStudy) -> str:
    html = client.get(reverse("gallery:study_thanks", args=[study.slug])).content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_voting_page_is_a_form_of_radio_buttons_and_one_confirm_button(
    client, curator, restorations
):
    study = make_study(curator, restorations)
    html = client.get(vote_url(study), follow=True).content.decode()

    form = re.search(r"<form method=\"post\" action=\"([^\"]+)\"[^>]*>(.*?)</form>", html, re.S)
    assert form.group(1) == vote_url(study)
    body = form.group(2)
    radios = re.findall(r'<input type="radio" name="choice" value="([^"]+)" id="([^"]+)"', body)
    assert [value for value, _ in radios][-1] == "not-sure" and len(radios) == 3
    for value, radio_id in radios[:2]:
        # Each candidate's image is the label of its radio button: clicking it only chooses.
        assert re.search(rf'<label for="{radio_id}" class="study-candidate">\s*<img', body)
        assert f'href="/studies/candidates/{value}.jpg"' in body  # "Enlarge" without a script
    # Nothing sends the vote but the one confirm button.
    assert re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', body) == ["Confirm choice"]
    assert 'name="choice"' not in "".join(re.findall(r"<button[^>]*>", body))
    assert 'Enlarge <span class="visually-hidden">candidate A</span>' in body
    assert "<kbd>Enter</kbd> confirm the choice" in html  # the keyboard help


def test_a_vote_confirmed_without_javascript_is_recorded_and_the_next_set_follows(
    client, curator, restorations
):
    study = make_study(curator, restorations)
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())

    # What a browser posts for the form: the hidden fields and the checked radio button.
    response = cast(client, study, fields, fields["choices"][1], follow=True)

    vote = StudyVote.objects.get()
    assert vote.trial_id == int(fields["trial"]) and vote.candidate.token == fields["choices"][1]
    html = response.content.decode()
    assert progress(html) == "Image set 2 of 2"
    assert shown_form(html)["trial"] != fields["trial"]


def test_confirming_with_nothing_chosen_asks_for_a_choice_and_records_nothing(
    client, curator, restorations
):
    study = make_study(curator, restorations)
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    data = {key: fields[key] for key in ("trial", "repeat", "shown")}

    response = client.post(vote_url(study), data, follow=True)

    html = response.content.decode()
    assert "Choose one of the images first, then confirm your choice." in html
    assert progress(html) == "Image set 1 of 2"
    assert shown_form(html)["trial"] == fields["trial"]
    assert not StudyVote.objects.exists() and not Participant.objects.exists()


def test_the_thanks_page_counts_what_the_progress_line_counted(client, curator, restorations):
    study = make_study(curator, restorations, attention_check=True)
    seen = []
    while "/thanks/" not in (page := client.get(vote_url(study), follow=True)).request["PATH_INFO"]:
        html = page.content.decode()
        seen.append(progress(html))
        fields = shown_form(html)
        cast(client, study, fields, fields["choices"][0])
        assert len(seen) < 10

    assert seen == ["Image set 1 of 2", "Image set 2 of 2", "Image set 1 of 2, shown again"]
    text = thanks_text(client, study)
    assert "You answered 2 image sets of 2 in “Which restoration reads best?”." in text
    assert "One of them was shown to you a second time" in text
    assert "still wait" not in text and "not counted" not in text


def test_a_set_retired_while_on_screen_is_counted_and_explained(client, curator, restorations):
    study = make_study(curator, restorations, retire_after=1, allow_not_sure=False)
    html = client.get(vote_url(study), follow=True).content.decode()
    assert progress(html) == "Image set 1 of 2"
    fields = shown_form(html)
    # Another visitor's vote retires the set while this one looks at it.
    shown = StudyTrial.objects.get(pk=fields["trial"])
    other = Participant.objects.create()
    served = services.trial_serve(study=study, participant=other, position=shown.position)
    services.vote_cast(trial=shown, participant=other, choice=served.shown[0], shown=served.shown)

    refused = cast(client, study, fields, fields["choices"][0], follow=True).content.decode()

    assert "This image set has collected enough votes; here is another." in refused
    assert progress(refused) == "Image set 2 of 2"  # not "1 of 1": the first set still counts
    following = shown_form(refused)
    cast(client, study, following, following["choices"][0])
    text = thanks_text(client, study)
    assert "You answered 1 image set of 2" in text
    assert "1 image set collected enough votes from other visitors" in text
    assert "so it was not counted" in text


def test_thanks_reached_halfway_says_how_many_sets_still_wait(client, curator, restorations):
    study = make_study(curator, restorations)
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    cast(client, study, fields, fields["choices"][0])

    text = thanks_text(client, study)

    assert "You answered 1 image set of 2" in text
    assert "1 image set still waits for you. Continue" in text
    detail = client.get(study.get_absolute_url()).content.decode()
    assert "You have answered 1 image set of 2." in detail


def test_thanks_after_a_study_closed_halfway_offers_no_continue(client, curator, restorations):
    study = make_study(curator, restorations)
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    cast(client, study, fields, fields["choices"][0])
    services.study_close(study=study, user=curator)

    text = thanks_text(client, study)

    assert "You answered 1 image set of 2" in text
    assert "Continue" not in text and "still wait" not in text
