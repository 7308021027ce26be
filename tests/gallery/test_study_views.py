"""User study pages: anonymous voting with a signed cookie, throttling, curators' pages, CSV."""

import csv
import io
import re

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from gallery.models import Participant, StudyTrial, StudyVote, UserStudy
from gallery.participants import COOKIE, COOKIE_SALT
from gallery.services import studies as services

pytestmark = pytest.mark.django_db

ENGINE_NAMES = ("telea", "navier", "exemplar", "lama", "stokes")


@pytest.fixture
def study(curator, restorations) -> UserStudy:
    return services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        description="Help us choose the restorations for the exhibition.",
        restorations=restorations,
        open_now=True,
    )


def vote_url(study: UserStudy) -> str:
    return reverse("gallery:study_vote", args=[study.slug])


def shown_form(html: str) -> dict:
    """The hidden fields and candidate tokens of a voting page, as a visitor's browser sees them."""
    fields = dict(
        re.findall(r'<input type="hidden" name="(trial|repeat|shown)" value="([^"]*)"', html)
    )
    fields["choices"] = re.findall(r'name="choice" value="([^"]+)"', html)
    return fields


def read_cookie(value: str) -> str | None:
    request = RequestFactory().get("/")
    request.COOKIES[COOKIE] = value
    return request.get_signed_cookie(COOKIE, salt=COOKIE_SALT, default=None)


def cast(client: Client, study: UserStudy, fields: dict, choice: str, **extra):
    data = {key: fields[key] for key in ("trial", "repeat", "shown")}
    return client.post(vote_url(study), {**data, "choice": choice}, **extra)


def open_page(client: Client, study: UserStudy, **extra) -> dict:
    """The visitor's next image set, served to them: its form fields."""
    return shown_form(client.get(vote_url(study), follow=True, **extra).content.decode())


def test_visitor_votes_through_a_study_with_a_signed_cookie(client, study):
    detail = client.get(study.get_absolute_url())
    assert detail.status_code == 200
    assert b"Which image best represents the original artwork?" in detail.content
    assert b"Start" in detail.content and b"no account" in detail.content

    page = client.get(vote_url(study), follow=True)
    assert page.status_code == 200
    (trial_url, status), *_ = page.redirect_chain
    assert status == 302 and trial_url.startswith(vote_url(study))
    html = page.content.decode()
    assert "Image set 1 of 2" in html
    assert 'alt="Candidate A"' in html and 'alt="Candidate B"' in html
    assert "Not sure" in html
    first = shown_form(html)
    assert len(first["choices"]) == 3  # two candidates and "not sure"
    assert not Participant.objects.exists(), "looking must not create a participant"
    issued = read_cookie(client.cookies[COOKIE].value)

    response = cast(client, study, first, first["choices"][1])

    assert response.status_code == 302 and response["Location"] == vote_url(study)
    participant = Participant.objects.get()
    morsel = response.cookies[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
    assert client.cookies[COOKIE].value != str(participant.pk), "the cookie is signed"
    assert read_cookie(morsel.value) == str(participant.pk) == issued
    chosen = StudyVote.objects.get(participant=participant)
    assert chosen.trial_id == int(first["trial"]) and chosen.candidate.token == first["choices"][1]
    assert chosen.shown == first["shown"].split(",")

    second_page = client.get(vote_url(study), follow=True).content.decode()
    assert "Image set 2 of 2" in second_page
    second = shown_form(second_page)
    assert second["trial"] != first["trial"]
    cast(client, study, second, "not-sure")

    done = client.get(vote_url(study))
    assert done.status_code == 302
    assert done["Location"] == reverse("gallery:study_thanks", args=[study.slug])
    thanks = client.get(done["Location"])
    assert b"You answered 2 image sets" in thanks.content
    assert StudyVote.objects.filter(participant=participant).count() == 2
    assert Participant.objects.count() == 1


def test_a_second_vote_on_the_same_image_set_is_refused_and_harmless(client, study):
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    cast(client, study, fields, fields["choices"][0])

    response = cast(client, study, fields, fields["choices"][1], follow=True)

    assert b"You have already voted on this image set." in response.content
    vote = StudyVote.objects.get(trial_id=fields["trial"])
    assert vote.candidate.token == fields["choices"][0]
    assert Participant.objects.count() == 1


def test_an_answered_image_set_reached_again_keeps_its_number_and_refuses_a_vote(client, study):
    page = client.get(vote_url(study), follow=True)
    trial_url = page.redirect_chain[-1][0]
    fields = shown_form(page.content.decode())
    cast(client, study, fields, fields["choices"][0])
    assert "Image set 2 of 2" in client.get(vote_url(study), follow=True).content.decode()

    again = client.get(trial_url)  # what the back button asks for

    html = again.content.decode()
    assert again.status_code == 200 and "Image set 1 of 2" in html
    assert shown_form(html)["trial"] == fields["trial"]
    response = cast(client, study, shown_form(html), shown_form(html)["choices"][1], follow=True)
    assert b"You have already voted on this image set." in response.content
    assert b"Image set 2 of 2" in response.content
    assert StudyVote.objects.filter(trial_id=fields["trial"]).count() == 1


def test_a_retired_image_set_sends_a_newcomer_on_to_another(client, curator, restorations):
    study = services.study_create(
        created_by=curator,
        title="Retiring",
        question="Which?",
        restorations=restorations,
        retire_after=1,
        open_now=True,
    )
    first = Client()
    page = first.get(vote_url(study), follow=True)
    fields = shown_form(page.content.decode())
    cast(first, study, fields, fields["choices"][0])

    response = client.get(page.redirect_chain[-1][0], follow=True)

    assert shown_form(response.content.decode())["trial"] != fields["trial"]


def test_a_tampered_cookie_is_ignored(client, study):
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    cast(client, study, fields, fields["choices"][0])
    victim = Participant.objects.get()

    intruder = Client()
    intruder.cookies[COOKIE] = str(victim.pk)  # unsigned: a guess at someone else's id
    page = intruder.get(vote_url(study), follow=True).content.decode()
    assert "Image set 1 of 2" in page
    own = shown_form(page)
    cast(intruder, study, own, own["choices"][1])

    # The intruder became a participant of their own; the victim's vote is untouched.
    assert Participant.objects.count() == 2
    assert StudyVote.objects.filter(participant=victim).count() == 1
    assert StudyVote.objects.exclude(participant=victim).get().trial_id == int(own["trial"])


def test_a_forged_signature_reads_as_no_participant(client, study):
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    cast(client, study, fields, fields["choices"][0])
    victim = Participant.objects.get()

    forger = Client()
    # Signed, but not by the participant salt: another part of the site could sign ids too.
    forged = HttpResponse()
    forged.set_signed_cookie(COOKIE, str(victim.pk), salt="some.other.purpose")
    forger.cookies[COOKIE] = forged.cookies[COOKIE].value
    response = cast(forger, study, fields, fields["choices"][1], follow=True)

    # Read as the victim it would be a second vote; read as a new visitor, it is a vote on an
    # image set never shown to them.
    assert b"already voted" not in response.content
    assert b"This image set was not shown to you" in response.content
    assert StudyVote.objects.filter(participant=victim).count() == 1
    assert Participant.objects.count() == 1


def test_votes_over_the_rate_get_429_and_change_nothing(client, study, settings):
    settings.GALLERY_VOTE_RATE = "3/h"
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    assert cast(client, study, fields, fields["choices"][0]).status_code == 302
    second = shown_form(client.get(vote_url(study), follow=True).content.decode())
    assert cast(client, study, second, second["choices"][0]).status_code == 302
    assert cast(client, study, second, second["choices"][1]).status_code == 302  # a double vote

    # A fourth vote from the same address, even as a new visitor, is one too many.
    newcomer = Client()
    response = cast(newcomer, study, fields, fields["choices"][1])

    assert response.status_code == 429
    assert b"Too many votes" in response.content
    assert response["Retry-After"] == "3600"
    assert StudyVote.objects.count() == 2 and Participant.objects.count() == 1
    # Another network is not held back.
    other = Client(REMOTE_ADDR="192.0.2.7")
    elsewhere_fields = open_page(other, study)
    elsewhere = cast(other, study, elsewhere_fields, elsewhere_fields["choices"][1])
    assert elsewhere.status_code == 302 and StudyVote.objects.count() == 3


def test_new_participants_over_the_rate_get_429(study, settings):
    settings.GALLERY_PARTICIPANT_RATE = "2/h"
    statuses = []
    for _ in range(3):
        newcomer = Client()
        fields = open_page(newcomer, study)
        statuses.append(cast(newcomer, study, fields, fields["choices"][0]).status_code)

    assert statuses == [302, 302, 429]
    assert Participant.objects.count() == 2


def test_the_ip_hash_is_salted_and_comes_from_the_configured_header(client, study, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())

    cast(client, study, fields, fields["choices"][0], HTTP_X_REAL_IP="198.51.100.4")

    participant = Participant.objects.get()
    vote = StudyVote.objects.get()
    assert len(participant.ip_hash) == 64 and "198.51" not in participant.ip_hash
    assert vote.ip_hash == participant.ip_hash
    other = Client(HTTP_X_REAL_IP="198.51.100.5")
    other_fields = open_page(other, study)
    cast(other, study, other_fields, other_fields["choices"][0])
    assert Participant.objects.exclude(pk=participant.pk).get().ip_hash != participant.ip_hash


def test_public_pages_never_name_an_engine(study, expert_client):
    client = Client()
    pages = [
        client.get(study.get_absolute_url()),
        client.get(vote_url(study), follow=True),
        client.get(reverse("gallery:study_thanks", args=[study.slug])),
        expert_client.get(vote_url(study), follow=True),
    ]
    for page in pages:
        html = page.content.decode().lower()
        assert page.status_code == 200
        for name in ENGINE_NAMES:
            assert name not in html
        assert "/media/" not in html, "images go through opaque URLs only"


def test_candidate_images_are_served_by_token_while_the_study_is_open(
    study, curator_client, curator
):
    client = Client()
    trial = study.trials.get(position=1)
    candidate = trial.candidates.first()
    url = reverse("gallery:study_candidate_image", args=[candidate.token])

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert f'filename="{candidate.token}.jpg"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == candidate.restoration.preview.read()
    source = client.get(reverse("gallery:study_input_image", args=[trial.pk]))
    assert source.status_code == 200
    assert b"".join(source.streaming_content) == candidate.restoration.input_preview.read()

    services.study_close(study=study, user=curator)
    assert client.get(url).status_code == 404
    assert client.get(reverse("gallery:study_input_image", args=[trial.pk])).status_code == 404
    assert curator_client.get(url).status_code == 200
    assert client.get(reverse("gallery:study_candidate_image", args=["nope"])).status_code == 404


def test_draft_studies_are_hidden_from_visitors_but_previewed_by_curators(
    curator, expert, restorations
):
    draft = services.study_create(
        created_by=curator, title="Draft", question="Which?", restorations=restorations
    )
    visitor, expert_client, curator_client = Client(), Client(), Client()
    expert_client.force_login(expert)
    curator_client.force_login(curator)

    assert visitor.get(draft.get_absolute_url()).status_code == 404
    assert visitor.get(vote_url(draft)).status_code == 404
    assert expert_client.get(draft.get_absolute_url()).status_code == 404
    preview = curator_client.get(draft.get_absolute_url())
    assert preview.status_code == 200 and b"Preview" in preview.content


def test_a_closed_study_thanks_visitors_and_takes_no_votes(client, study, curator):
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    services.study_close(study=study, user=curator)

    page = client.get(study.get_absolute_url())
    assert b"This study has closed, thank you" in page.content
    assert b"Start" not in page.content
    assert client.get(vote_url(study))["Location"] == study.get_absolute_url()
    response = cast(client, study, fields, fields["choices"][0], follow=True)
    assert b"This study is not taking votes." in response.content
    assert not StudyVote.objects.exists() and not Participant.objects.exists()


def test_not_sure_is_offered_only_when_the_study_allows_it(client, curator, restorations):
    strict = services.study_create(
        created_by=curator,
        title="Strict",
        question="Which?",
        restorations=restorations,
        allow_not_sure=False,
        open_now=True,
    )
    html = client.get(vote_url(strict), follow=True).content.decode()
    fields = shown_form(html)

    assert "Not sure" not in html and len(fields["choices"]) == 2
    response = cast(client, strict, fields, "not-sure", follow=True)
    assert b"Please choose one of the images." in response.content
    assert not StudyVote.objects.exists() and not Participant.objects.exists()


def test_a_vote_for_a_trial_of_another_study_is_refused(client, study, curator, restorations):
    other = services.study_create(
        created_by=curator, title="Other", question="?", restorations=restorations, open_now=True
    )
    fields = shown_form(client.get(vote_url(other), follow=True).content.decode())

    response = cast(client, study, fields, fields["choices"][0], follow=True)

    assert b"could not be read" in response.content
    assert not StudyVote.objects.exists()


def test_curator_creates_a_study_from_grouped_restorations(curator_client, restorations):
    form = curator_client.get(reverse("gallery:study_create"))
    html = form.content.decode()
    assert "Which image best represents the original artwork?" in html
    assert "telea" in html and "navier_stokes" in html and "Demo motif 2" in html

    response = curator_client.post(
        reverse("gallery:study_create"),
        {
            "title": "Cliff paintings",
            "question": "Which image looks most like the original painting?",
            "show_input": "on",
            "retire_after": "25",
            "restorations": [r.job_id for r in restorations],
        },
    )

    study = UserStudy.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:study_results", args=[study.pk])
    assert study.slug == "cliff-paintings" and study.retire_after == 25
    assert study.show_input and not study.allow_not_sure and study.status == "draft"
    assert StudyTrial.objects.filter(study=study).count() == 2


def test_study_create_shows_why_a_lone_restoration_cannot_make_an_image_set(
    curator_client, restorations
):
    response = curator_client.post(
        reverse("gallery:study_create"),
        {
            "title": "Lonely",
            "question": "Which?",
            "restorations": [r.job_id for r in restorations[:3]],
        },
    )

    assert response.status_code == 400
    assert b"needs at least two candidates for the same input" in response.content
    assert not UserStudy.objects.exists()


def test_curator_pages_are_closed_to_others(expert_client, study):
    url = reverse("gallery:study_results", args=[study.pk])
    assert Client().get(url).status_code == 302
    assert expert_client.get(url).status_code == 403
    assert expert_client.get(reverse("gallery:study_manage_list")).status_code == 403
    csv_url = reverse("gallery:study_votes_csv", args=[study.pk])
    assert expert_client.get(csv_url).status_code == 403


def test_results_page_shows_shares_scale_and_charts(curator_client, study):
    for _ in range(3):
        visitor = Client()
        fields = shown_form(visitor.get(vote_url(study), follow=True).content.decode())
        cast(visitor, study, fields, fields["choices"][0])

    page = curator_client.get(reverse("gallery:study_results", args=[study.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Visual quality (%)" in html and "Bradley-Terry" in html
    assert "telea" in html and "navier_stokes" in html
    assert html.count("<svg") == 3
    # All votes fell today: the timeline counts them per hour rather than as one day's point.
    assert "Votes per hour" in html
    assert "3 votes counted from 3 participants" in html
    listing = curator_client.get(reverse("gallery:study_manage_list")).content.decode()
    assert study.title in listing and study.get_absolute_url() in listing


def test_curator_closes_and_reopens_a_study(curator_client, study):
    close = curator_client.post(reverse("gallery:study_close", args=[study.pk]), follow=True)
    assert b"no more votes are taken" in close.content
    study.refresh_from_db()
    assert study.status == UserStudy.Status.CLOSED

    curator_client.post(reverse("gallery:study_open", args=[study.pk]))
    study.refresh_from_db()
    assert study.status == UserStudy.Status.OPEN


def test_votes_csv_lists_every_vote_with_engines(curator_client, study):
    client = Client()
    fields = shown_form(client.get(vote_url(study), follow=True).content.decode())
    cast(client, study, fields, fields["choices"][0])
    vote = StudyVote.objects.get()

    response = curator_client.get(reverse("gallery:study_votes_csv", args=[study.pk]))

    assert response["Content-Type"].startswith("text/csv")
    assert f"study-{study.slug}-votes.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["vote_id", "study", "trial_position"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["vote_id"] == str(vote.pk)
    assert row["participant"] == str(vote.participant_id)
    assert row["choice_token"] == fields["choices"][0]
    assert row["choice_engine"] == vote.candidate.restoration.engine
    assert row["repeat"] == "False"
    shown = [
        StudyVote.objects.get().trial.candidates.get(token=t) for t in fields["shown"].split(",")
    ]
    assert row["shown_engines"] == ";".join(c.restoration.engine for c in shown)


def test_home_page_invites_visitors_to_open_studies_only(
    client, study, curator, django_capture_on_commit_callbacks
):
    home = client.get("/")
    assert study.get_absolute_url() in home.content.decode()
    assert client.get("/")["X-Page-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        services.study_close(study=study, user=curator)

    # Closing drops the cached home page at once.
    assert study.get_absolute_url() not in client.get("/").content.decode()


# The page's hidden fields are only what the visitor's browser sends back: the server checks
# them against what it handed out.


def test_a_repeat_posted_for_an_image_set_not_chosen_again_is_refused(client, study):
    fields = open_page(client, study)
    cast(client, study, fields, fields["choices"][0])

    response = cast(client, study, {**fields, "repeat": "1"}, fields["choices"][1], follow=True)

    assert b"This image set was not chosen to be shown to you again" in response.content
    assert StudyVote.objects.count() == 1 and not StudyVote.objects.filter(repeat=True).exists()


def test_a_reordered_shown_field_is_refused(client, study):
    fields = open_page(client, study)
    reordered = ",".join(reversed(fields["shown"].split(",")))

    response = cast(
        client, study, {**fields, "shown": reordered}, fields["choices"][0], follow=True
    )

    assert b"The images shown do not match this image set" in response.content
    assert not StudyVote.objects.exists() and not Participant.objects.exists()


def test_a_vote_on_an_image_set_never_shown_is_refused(client, study):
    fields = open_page(client, study)
    other = study.trials.exclude(pk=fields["trial"]).get()
    tokens = list(other.candidates.values_list("token", flat=True))
    unserved = {"trial": str(other.pk), "repeat": "0", "shown": ",".join(tokens)}

    response = cast(client, study, unserved, tokens[0], follow=True)

    assert b"This image set was not shown to you" in response.content
    assert not StudyVote.objects.exists() and not Participant.objects.exists()
    # The page goes on with the image set the visitor was actually shown.
    assert shown_form(response.content.decode())["trial"] == fields["trial"]


def test_the_attention_check_keeps_its_image_set_number(client, curator, restorations):
    checked = services.study_create(
        created_by=curator,
        title="Checked",
        question="Which?",
        restorations=restorations,
        attention_check=True,
        open_now=True,
    )
    thanks = reverse("gallery:study_thanks", args=[checked.slug])
    pages = []
    while (page := client.get(vote_url(checked), follow=True)).redirect_chain[-1][0] != thanks:
        html = page.content.decode()
        pages.append((re.search(r"Image set \d+ of \d+", html).group(), "seen this image" in html))
        fields = shown_form(html)
        assert cast(client, checked, fields, fields["choices"][0]).status_code == 302
        assert len(pages) < 10

    assert pages == [
        ("Image set 1 of 2", False),
        ("Image set 2 of 2", False),
        ("Image set 1 of 2", True),
    ]
    assert StudyVote.objects.filter(repeat=True).count() == 1
    assert b"You answered 2 image sets" in page.content
