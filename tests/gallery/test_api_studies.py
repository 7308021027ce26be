"""User studies API: the visitor's trials and votes (cookie, CSRF, limits) and curators' results."""

import io
import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gallery.models import Participant, StudyVote, UserStudy
from gallery.participants import COOKIE, COOKIE_SALT
from gallery.services import studies as services

pytestmark = pytest.mark.django_db

ENGINE_NAMES = ("telea", "navier", "exemplar", "lama", "engine")


@pytest.fixture
def study(curator, restorations) -> UserStudy:
    return services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        description="Help us choose.",
        restorations=restorations,
        open_now=True,
    )


def url(name: str, study: UserStudy) -> str:
    return reverse(f"gallery_api:{name}", args=[study.slug])


def visitor() -> APIClient:
    return APIClient(enforce_csrf_checks=True)


def next_trial(api: APIClient, study: UserStudy) -> dict:
    response = api.get(url("study_next", study))
    assert response.status_code == 200, response.content
    return response.json()


def vote(api: APIClient, study: UserStudy, shown: dict, choice: str | None, **extra):
    """Vote as a browser client does: the CSRF token from the cookie, in the header."""
    body = {
        "trial": shown["trial"],
        "choice": choice,
        "shown": [candidate["token"] for candidate in shown["candidates"]],
        "repeat": shown["repeat"],
    }
    token = api.cookies["csrftoken"].value if "csrftoken" in api.cookies else ""
    return api.post(url("study_votes", study), body, format="json", HTTP_X_CSRFTOKEN=token, **extra)


def participant_of(api: APIClient) -> str | None:
    request = Client().get("/").wsgi_request
    request.COOKIES[COOKIE] = api.cookies[COOKIE].value
    return request.get_signed_cookie(COOKIE, salt=COOKIE_SALT, default=None)


def assert_blind(response) -> None:
    text = response.content.decode().lower()
    for name in ENGINE_NAMES:
        assert name not in text, name
    assert "/media/" not in text and "restorations/" not in text


def test_study_detail_gives_the_texts_and_a_csrf_cookie(study):
    api = visitor()

    response = api.get(url("study", study))

    assert response.status_code == 200
    assert response.json() == {
        "slug": study.slug,
        "title": "Which restoration reads best?",
        "question": "Which image best represents the original artwork?",
        "description": "Help us choose.",
        "kind": "restoration",
        "show_input": True,
        "allow_not_sure": True,
        "status": "open",
        "answered": 0,
        "url": study.get_absolute_url(),
    }
    assert api.cookies["csrftoken"].value


def test_draft_studies_are_not_found_except_by_curators(curator, expert, restorations):
    draft = services.study_create(
        created_by=curator, title="Draft", question="Which?", restorations=restorations
    )
    anonymous, as_expert, as_curator = APIClient(), APIClient(), APIClient()
    as_expert.force_login(expert)
    as_curator.force_login(curator)

    for api in (anonymous, as_expert):
        assert api.get(url("study", draft)).status_code == 404
        assert api.get(url("study_next", draft)).status_code == 404
    assert as_curator.get(url("study", draft)).json()["status"] == "draft"
    assert as_curator.get(url("study_next", draft)).status_code == 200


def test_visitor_votes_through_a_study(study):
    api = visitor()
    api.get(url("study", study))

    first = next_trial(api, study)

    trial = study.trials.get(pk=first["trial"])
    assert first["number"] == 1 and first["total"] == 2 and first["repeat"] is False
    assert [c["label"] for c in first["candidates"]] == ["A", "B"]
    assert {c["token"] for c in first["candidates"]} == set(
        trial.candidates.values_list("token", flat=True)
    )
    for candidate in first["candidates"]:
        assert candidate["image"] == reverse(
            "gallery:study_candidate_image", args=[candidate["token"]]
        )
        assert api.get(candidate["image"]).status_code == 200
    assert first["input_image"] == reverse("gallery:study_input_image", args=[trial.pk])
    assert not Participant.objects.exists(), "looking must not create a participant"
    issued = participant_of(api)

    response = vote(api, study, first, first["candidates"][1]["token"])

    assert response.status_code == 201 and response.json() == {"status": "counted"}
    participant = Participant.objects.get()
    assert str(participant.pk) == issued == participant_of(api)
    chosen = StudyVote.objects.get()
    assert chosen.candidate.token == first["candidates"][1]["token"]
    assert chosen.shown == [c["token"] for c in first["candidates"]]

    second = next_trial(api, study)
    assert second["trial"] != first["trial"] and second["number"] == 2
    assert vote(api, study, second, None).status_code == 201  # "not sure"
    assert api.get(url("study_next", study)).status_code == 204
    assert api.get(url("study", study)).json()["answered"] == 2
    assert StudyVote.objects.filter(participant=participant).count() == 2
    assert StudyVote.objects.get(trial_id=second["trial"]).candidate is None


def test_the_api_and_the_page_share_the_visitor_and_their_order(study):
    api = visitor()
    shown = next_trial(api, study)
    page = Client()
    page.cookies[COOKIE] = api.cookies[COOKIE].value

    html = page.get(reverse("gallery:study_vote", args=[study.slug]), follow=True)

    tokens = ",".join(candidate["token"] for candidate in shown["candidates"])
    assert f'name="shown" value="{tokens}"' in html.content.decode()
    vote(api, study, shown, shown["candidates"][0]["token"])
    again = page.post(
        reverse("gallery:study_vote", args=[study.slug]),
        {"trial": shown["trial"], "repeat": "0", "shown": tokens, "choice": "not-sure"},
        follow=True,
    )
    assert b"You have already voted on this image set." in again.content


def test_study_json_never_names_an_engine_or_a_file(study, expert):
    api = visitor()
    responses = [api.get(url("study", study)), api.get(url("study_next", study))]
    api.force_login(expert)
    responses.append(api.get(url("study_next", study)))
    for response in responses:
        assert response.status_code == 200
        assert_blind(response)


def test_a_vote_without_a_csrf_token_is_refused(study):
    api = visitor()
    shown = next_trial(api, study)
    body = {
        "trial": shown["trial"],
        "choice": shown["candidates"][0]["token"],
        "shown": [c["token"] for c in shown["candidates"]],
    }

    missing = api.post(url("study_votes", study), body, format="json")
    wrong = api.post(url("study_votes", study), body, format="json", HTTP_X_CSRFTOKEN="x" * 32)

    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    assert wrong.status_code == 403
    assert not StudyVote.objects.exists() and not Participant.objects.exists()


def test_a_signed_in_user_also_needs_the_csrf_token(study, expert):
    api = visitor()
    token = Token.objects.create(user=expert)
    shown = next_trial(api, study)
    body = {
        "trial": shown["trial"],
        "choice": shown["candidates"][0]["token"],
        "shown": [c["token"] for c in shown["candidates"]],
    }

    response = api.post(
        url("study_votes", study), body, format="json", HTTP_AUTHORIZATION=f"Token {token.key}"
    )

    assert response.status_code == 403
    assert not StudyVote.objects.exists()


def test_a_second_vote_on_the_same_image_set_is_a_conflict(study):
    api = visitor()
    shown = next_trial(api, study)
    vote(api, study, shown, shown["candidates"][0]["token"])

    response = vote(api, study, shown, shown["candidates"][1]["token"])

    assert response.status_code == 409
    assert response.json()["detail"] == "You have already voted on this image set."
    kept = StudyVote.objects.get()
    assert kept.candidate.token == shown["candidates"][0]["token"]
    assert Participant.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"choice": "not-a-token"}, "That choice is not part of this image set."),
        ({"shown": ["only-one"]}, "The images shown do not match this image set"),
    ],
)
def test_a_vote_the_service_refuses_gets_400_and_changes_nothing(study, change, message):
    api = visitor()
    shown = next_trial(api, study)
    token = api.cookies["csrftoken"].value
    body = {
        "trial": shown["trial"],
        "choice": shown["candidates"][0]["token"],
        "shown": [c["token"] for c in shown["candidates"]],
        **change,
    }

    response = api.post(url("study_votes", study), body, format="json", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert not StudyVote.objects.exists() and not Participant.objects.exists()


def test_not_sure_is_refused_when_the_study_does_not_offer_it(curator, restorations):
    strict = services.study_create(
        created_by=curator,
        title="Strict",
        question="Which?",
        restorations=restorations,
        allow_not_sure=False,
        show_input=False,
        open_now=True,
    )
    api = visitor()
    shown = next_trial(api, strict)
    assert shown["allow_not_sure"] is False and shown["input_image"] is None

    response = vote(api, strict, shown, None)

    assert response.status_code == 400
    assert response.json()["detail"] == "Please choose one of the images."
    assert not StudyVote.objects.exists()


def test_a_vote_for_an_image_set_of_another_study_is_refused(study, curator, restorations):
    other = services.study_create(
        created_by=curator, title="Other", question="?", restorations=restorations, open_now=True
    )
    api = visitor()
    shown = next_trial(api, other)

    response = vote(api, study, shown, shown["candidates"][0]["token"])

    assert response.status_code == 400 and "trial" in response.json()
    assert not StudyVote.objects.exists()


def test_a_closed_study_offers_nothing_and_takes_no_votes(study, curator):
    api = visitor()
    shown = next_trial(api, study)
    services.study_close(study=study, user=curator)

    closed = api.get(url("study_next", study))
    response = vote(api, study, shown, shown["candidates"][0]["token"])

    assert closed.status_code == 409 and closed.json()["detail"] == "This study has closed."
    assert api.get(url("study", study)).json()["status"] == "closed"
    assert response.status_code == 400
    assert response.json()["detail"] == "This study is not taking votes."
    assert not StudyVote.objects.exists() and not Participant.objects.exists()


def test_votes_over_the_rate_are_429_counted_together_with_the_page_form(study, settings):
    settings.GALLERY_VOTE_RATE = "2/h"
    api = visitor()
    first = next_trial(api, study)
    tokens = [c["token"] for c in first["candidates"]]
    # Another visitor on the same network votes through the page's form.
    page = Client()
    html = page.get(reverse("gallery:study_vote", args=[study.slug]), follow=True)
    fields = dict(re.findall(r'name="(trial|shown)" value="([^"]*)"', html.content.decode()))
    page_vote = page.post(
        reverse("gallery:study_vote", args=[study.slug]),
        {**fields, "repeat": "0", "choice": fields["shown"].split(",")[0]},
    )
    assert page_vote.status_code == 302 and StudyVote.objects.count() == 1

    assert vote(api, study, first, tokens[1]).status_code == 201
    throttled = vote(api, study, next_trial(api, study), tokens[0])

    assert throttled.status_code == 429
    assert "Too many votes" in throttled.json()["detail"]
    assert throttled["Retry-After"] == "3600"
    assert StudyVote.objects.count() == 2
    # Another network is not held back.
    elsewhere = vote(api, study, next_trial(api, study), None, REMOTE_ADDR="192.0.2.7")
    assert elsewhere.status_code == 201


def test_new_participants_over_the_rate_are_429(study, settings):
    settings.GALLERY_PARTICIPANT_RATE = "1/h"
    statuses = []
    for _ in range(2):
        api = visitor()
        shown = next_trial(api, study)
        statuses.append(vote(api, study, shown, None).status_code)

    assert statuses == [201, 429]
    assert Participant.objects.count() == 1


def results_url(study: UserStudy) -> str:
    return reverse("gallery_api:study_results", args=[study.pk])


def test_results_are_for_curators_only(study, expert, plain_user):
    assert APIClient().get(results_url(study)).status_code == 403
    for user in (expert, plain_user):
        api = APIClient()
        api.force_login(user)
        assert api.get(results_url(study)).status_code == 403
        token = Token.objects.create(user=user)
        response = APIClient().get(results_url(study), HTTP_AUTHORIZATION=f"Token {token.key}")
        assert response.status_code == 403


def test_results_give_curators_the_vote_shares(study, curator):
    trial = study.trials.get(position=1)
    by_engine = {c.restoration.engine: c.token for c in trial.candidates.all()}
    picks = [by_engine["telea"]] * 3 + [by_engine["navier_stokes"], None]
    for number, choice in enumerate(picks):
        participant = services.participant_create(ip_hash=f"hash-{number}")
        served = services.trial_serve(study=study, participant=participant, position=1)
        services.vote_cast(trial=trial, participant=participant, choice=choice, shown=served.shown)
    token = Token.objects.create(user=curator)

    response = APIClient().get(results_url(study), HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    data = response.json()
    assert data["study"] == study.slug and data["status"] == "open"
    assert data["counted"] == 5 and data["decisive"] == 4 and data["participants"] == 5
    engines = {row["engine"]: row for row in data["engines"]}
    assert set(engines) == {"telea", "navier_stokes"}
    telea, other = engines["telea"], engines["navier_stokes"]
    assert telea["votes"] == 3 and telea["appearances"] == 4
    assert telea["share"]["value"] == pytest.approx(0.75) and telea["share"]["n"] == 4
    assert telea["share"]["low"] < 0.75 < telea["share"]["high"]
    assert other["share"]["value"] == pytest.approx(0.25)
    assert telea["scale"]["value"] > other["scale"]["value"]
    assert data["not_sure"]["votes"] == 1
    assert data["not_sure"]["share"]["value"] == pytest.approx(0.2)
    assert data["timeline"][0]["votes"] == 5
    assert [row["votes"] for row in data["trials"]] == [5, 0]
    session = APIClient()
    session.force_login(curator)
    assert session.get(results_url(study)).json()["counted"] == 5
    assert session.get(reverse("gallery_api:study_results", args=[0])).status_code == 404


def test_schema_lists_the_study_and_exhibition_paths_without_warnings(db):
    response = APIClient().get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in (
        "/api/v1/exhibitions/",
        "/api/v1/exhibitions/{slug}/",
        "/api/v1/studies/{slug}/",
        "/api/v1/studies/{slug}/next/",
        "/api/v1/studies/{slug}/votes/",
        "/api/v1/studies/{id}/results/",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/studies/{slug}/votes/"]
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())


# The server alone decides what a vote may claim: the image sets it handed to the visitor,
# which of them is the attention check, and the order the candidates were shown in.


def refused(response, status: int, code: str, votes_before: int = 0) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert StudyVote.objects.count() == votes_before


def test_a_repeat_the_server_did_not_hand_out_is_refused(study):
    api = visitor()
    shown = next_trial(api, study)
    assert vote(api, study, shown, shown["candidates"][0]["token"]).status_code == 201

    forged = vote(api, study, {**shown, "repeat": True}, shown["candidates"][1]["token"])

    refused(forged, 400, "repeat", votes_before=1)
    assert forged.json()["detail"] == services.REPEAT_NOT_SERVED
    assert not StudyVote.objects.filter(repeat=True).exists()
    assert api.get(url("study", study)).json()["answered"] == 1


@pytest.mark.parametrize("order", ["reversed", "duplicated", "one missing"])
def test_a_shown_order_other_than_the_one_handed_out_is_refused(study, order):
    api = visitor()
    shown = next_trial(api, study)
    tokens = [candidate["token"] for candidate in shown["candidates"]]
    claimed = {
        "reversed": tokens[::-1],
        "duplicated": [*tokens, tokens[0]],
        "one missing": tokens[:1],
    }[order]
    body = {"trial": shown["trial"], "choice": tokens[0], "shown": claimed, "repeat": False}
    csrf = api.cookies["csrftoken"].value

    response = api.post(url("study_votes", study), body, format="json", HTTP_X_CSRFTOKEN=csrf)

    refused(response, 400, "shown")
    assert response.json()["detail"] == services.SHOWN_DIFFERS
    assert not Participant.objects.exists()
    # The order handed out is still the one that counts.
    assert vote(api, study, shown, tokens[0]).status_code == 201
    assert StudyVote.objects.get().shown == tokens


def test_a_vote_on_an_image_set_never_handed_out_is_a_conflict(study):
    api = visitor()
    shown = next_trial(api, study)
    other = study.trials.exclude(pk=shown["trial"]).get()
    tokens = list(other.candidates.values_list("token", flat=True))
    unserved = {"trial": other.pk, "repeat": False, "candidates": [{"token": t} for t in tokens]}

    response = vote(api, study, unserved, tokens[0])

    refused(response, 409, "not_served")
    assert response.json()["detail"] == services.NOT_SERVED
    assert not Participant.objects.exists()
    # Nor does a client that never asked for an image set get to vote on one.
    stranger = visitor()
    stranger.get(url("study", study))
    refused(vote(stranger, study, shown, tokens[0]), 409, "not_served")


def test_the_attention_check_is_handed_out_and_counted_as_the_server_chose(curator, restorations):
    checked = services.study_create(
        created_by=curator,
        title="Checked",
        question="Which?",
        restorations=restorations,
        attention_check=True,
        open_now=True,
    )
    api = visitor()
    seen = []
    while (response := api.get(url("study_next", checked))).status_code == 200:
        shown = response.json()
        seen.append((shown["trial"], shown["repeat"], shown["number"], shown["total"]))
        assert vote(api, checked, shown, shown["candidates"][0]["token"]).status_code == 201
        assert len(seen) < 10

    assert response.status_code == 204
    (first, *_), (second, *_), _ = seen
    # Two image sets, the first shown again under its own number: never "3 of 3".
    assert seen == [(first, False, 1, 2), (second, False, 2, 2), (first, True, 1, 2)]
    assert StudyVote.objects.filter(repeat=True).get().trial_id == first
    assert api.get(url("study", checked)).json()["answered"] == 2
