"""REST API of expert review: queue, scores, skips, results, the blind rule, auth and schema."""

import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import include, path, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gallery.models import DEFAULT_RUBRIC, ExpertScore, ReviewCampaign, ReviewResponse
from gallery.selectors.reviews import review_queue
from gallery.services.reviews import campaign_close, campaign_create, review_skip, review_submit

ALL_KEYS = [criterion["key"] for criterion in DEFAULT_RUBRIC]

# Only this module's endpoints, for the schema check below (spectacular --urlconf).
urlpatterns = [path("api/v1/", include(("gallery.api.review", "gallery_api")))]


def _campaign(curator, restorations, experts, **extra):
    extra.setdefault("open_now", True)
    extra.setdefault("reference", "damaged")
    return campaign_create(
        created_by=curator,
        title="Huashan pilot",
        instructions="Judge the restored area only.",
        restorations=restorations,
        experts=experts,
        **extra,
    )


@pytest.fixture
def campaign(curator, expert, restorations):
    return _campaign(curator, restorations, [expert])


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def expert_api(api, expert):
    api.force_authenticate(expert)
    return api


def _url(name, *args):
    return reverse(f"gallery_api:{name}", args=args)


def _scores(score=4, **overrides):
    return {**dict.fromkeys(ALL_KEYS, score), **overrides}


# Campaigns and queue


def test_review_campaigns_lists_the_experts_open_campaigns_with_progress(
    expert_api, curator, expert, second_expert, restorations, campaign
):
    _campaign(curator, restorations, [expert], open_now=False)  # a draft: not yet for scoring
    _campaign(curator, restorations, [second_expert])  # someone else's
    item = review_queue(campaign=campaign, expert=expert)[0]
    review_submit(item=item, expert=expert, scores=_scores(3))

    response = expert_api.get(_url("review_campaigns"))

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": campaign.pk,
            "title": "Huashan pilot",
            "instructions": "Judge the restored area only.",
            "reference": "Damaged input (what the engine was given)",
            "rubric": DEFAULT_RUBRIC,
            "scale": {"1": "Bad", "2": "Poor", "3": "Fair", "4": "Good", "5": "Excellent"},
            "done": 1,
            "total": 4,
        }
    ]


def test_review_campaigns_is_empty_without_an_assignment(api, campaign, curator, plain_user):
    for user in (curator, plain_user):
        api.force_authenticate(user)
        response = api.get(_url("review_campaigns"))
        assert response.status_code == 200
        assert response.json() == []


def test_review_items_follow_the_experts_own_order_with_their_answers(expert_api, campaign, expert):
    queue = review_queue(campaign=campaign, expert=expert)
    review_submit(item=queue[0], expert=expert, scores=_scores(2), comment="Seams show.")
    review_skip(item=queue[2], expert=expert)

    items = expert_api.get(_url("review_items", campaign.pk)).json()

    assert [item["token"] for item in items] == [item.token for item in queue]
    assert [item["number"] for item in items] == [1, 2, 3, 4]
    assert [item["status"] for item in items] == ["submitted", "pending", "skipped", "pending"]
    assert items[0]["scores"] == _scores(2)
    assert items[0]["comment"] == "Seams show." and items[0]["submitted_at"]
    assert items[1]["scores"] == {} and items[1]["submitted_at"] is None
    token = queue[0].token
    assert items[0]["images"] == {
        "result": reverse("gallery:review_image", args=[token, "result", "jpg"]),
        "reference": reverse("gallery:review_image", args=[token, "reference", "jpg"]),
        "outline": reverse("gallery:review_image", args=[token, "outline", "png"]),
    }


def test_review_items_are_404_to_experts_not_assigned(api, campaign, second_expert, curator):
    api.force_authenticate(second_expert)
    assert api.get(_url("review_items", campaign.pk)).status_code == 404
    assert api.get(_url("review_next", campaign.pk)).status_code == 404
    assert api.get(_url("review_items", campaign.pk + 1000)).status_code == 404
    # Curators may look, like on the review pages; their own queue is empty.
    api.force_authenticate(curator)
    response = api.get(_url("review_items", campaign.pk))
    assert response.status_code == 200 and response.json() == []


def test_review_next_gives_unseen_items_then_skipped_ones_then_204(expert_api, campaign, expert):
    queue = review_queue(campaign=campaign, expert=expert)

    first = expert_api.get(_url("review_next", campaign.pk)).json()
    assert first["token"] == queue[0].token and first["number"] == 1
    assert first["status"] == "pending"
    assert first["progress"] == {"done": 0, "total": 4}

    expert_api.post(_url("review_skip", queue[0].token))
    for item in queue[1:]:
        response = expert_api.put(
            _url("review_response", item.token), {"scores": _scores(4)}, format="json"
        )
        assert response.status_code == 200

    again = expert_api.get(_url("review_next", campaign.pk)).json()
    assert again["token"] == queue[0].token and again["status"] == "skipped"
    assert again["progress"] == {"done": 3, "total": 4}

    expert_api.put(_url("review_response", queue[0].token), {"scores": _scores(5)}, format="json")
    response = expert_api.get(_url("review_next", campaign.pk))
    assert response.status_code == 204 and not response.content


def test_review_next_refuses_experts_a_closed_campaign(expert_api, campaign, curator):
    campaign_close(campaign=campaign, user=curator)

    response = expert_api.get(_url("review_next", campaign.pk))

    assert response.status_code == 403
    assert "not open for scoring" in response.json()["detail"]


# Scoring and skipping


def test_review_response_stores_the_scores_and_returns_them(expert_api, campaign, expert):
    item = campaign.items.first()
    url = _url("review_response", item.token)

    response = expert_api.put(
        url, {"scores": _scores(4, overall="2"), "comment": "  Too smooth. "}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["scores"] == _scores(4, overall=2)
    assert body["comment"] == "Too smooth." and body["submitted_at"]
    stored = dict(
        ExpertScore.objects.filter(item=item, expert=expert).values_list("criterion", "score")
    )
    assert stored == _scores(4, overall=2)

    revised = expert_api.put(url, {"scores": _scores(5)}, format="json").json()
    assert revised["scores"] == _scores(5) and revised["comment"] == ""
    assert ExpertScore.objects.filter(item=item, expert=expert).count() == len(ALL_KEYS)


def test_review_response_errors_name_the_criterion_and_store_nothing(expert_api, campaign, expert):
    item = campaign.items.first()
    scores = _scores(4, structure="six", texture=None)
    del scores["colour"]

    response = expert_api.put(
        _url("review_response", item.token), {"scores": scores}, format="json"
    )

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"structure", "colour", "texture"}
    assert errors["structure"] == [
        "“Structural continuity” takes a whole number from 1 to 5, not “six”."
    ]
    assert errors["colour"] == ["Give “Colour and tone” a score from 1 to 5."]
    assert not ExpertScore.objects.filter(expert=expert).exists()
    assert not ReviewResponse.objects.filter(expert=expert).exists()


def test_review_response_reports_unknown_criteria_and_bad_bodies(expert_api, campaign):
    url = _url("review_response", campaign.items.first().token)

    unknown = expert_api.put(url, {"scores": _scores(3, charm=5)}, format="json")
    assert unknown.status_code == 400
    assert unknown.json() == {"non_field_errors": ["This campaign does not score charm."]}

    missing = expert_api.put(url, {"comment": "no scores"}, format="json")
    assert missing.status_code == 400 and "scores" in missing.json()

    form = expert_api.put(url, {"scores": "4"})
    assert form.status_code == 415


def test_review_response_is_refused_when_the_campaign_is_closed(
    expert_api, campaign, curator, expert
):
    campaign_close(campaign=campaign, user=curator)

    response = expert_api.put(
        _url("review_response", campaign.items.first().token), {"scores": _scores()}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "This campaign is not open for scoring."}
    assert not ExpertScore.objects.filter(expert=expert).exists()


def test_review_response_and_skip_are_404_to_experts_not_assigned(
    api, campaign, second_expert, plain_user
):
    token = campaign.items.first().token
    for user in (second_expert, plain_user):
        api.force_authenticate(user)
        put = api.put(_url("review_response", token), {"scores": _scores()}, format="json")
        assert put.status_code == 404
        assert api.post(_url("review_skip", token)).status_code == 404
    api.force_authenticate(second_expert)
    assert api.post(_url("review_skip", "no-such-token")).status_code == 404
    assert not ExpertScore.objects.exists() and not ReviewResponse.objects.exists()


def test_review_skip_puts_the_item_aside_but_not_a_scored_one(expert_api, campaign, expert):
    first, second = review_queue(campaign=campaign, expert=expert)[:2]

    response = expert_api.post(_url("review_skip", first.token))
    assert response.status_code == 200 and response.json() == {"status": "skipped"}
    assert ReviewResponse.objects.get(item=first, expert=expert).skipped

    review_submit(item=second, expert=expert, scores=_scores(3))
    refused = expert_api.post(_url("review_skip", second.token))
    assert refused.status_code == 400
    assert "already scored" in refused.json()["detail"]
    assert not ReviewResponse.objects.get(item=second, expert=expert).skipped


# Authentication


def test_a_script_can_score_with_a_token_and_no_csrf(campaign, expert):
    token = Token.objects.create(user=expert)
    script = APIClient(enforce_csrf_checks=True)
    script.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    item = campaign.items.first()

    response = script.put(_url("review_response", item.token), {"scores": _scores()}, format="json")

    assert response.status_code == 200
    assert ExpertScore.objects.filter(item=item, expert=expert).count() == len(ALL_KEYS)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    refused = bad.get(_url("review_campaigns"))
    assert refused.status_code in (401, 403) and refused.json() == {"detail": "Invalid token."}


def test_a_browser_session_needs_the_csrf_token_to_write(client, campaign, expert):
    client.force_login(expert)  # a real session cookie, as a signed-in browser has
    browser = APIClient(enforce_csrf_checks=True)
    browser.cookies = client.cookies
    item = campaign.items.first()
    url = _url("review_response", item.token)

    assert browser.get(_url("review_campaigns")).status_code == 200
    refused = browser.put(url, {"scores": _scores()}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not ExpertScore.objects.exists()

    client.get(reverse("gallery:review_home"))  # the page sets the csrftoken cookie
    browser.cookies = client.cookies
    csrf = client.cookies["csrftoken"].value
    allowed = browser.put(url, {"scores": _scores()}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert allowed.status_code == 200


def test_anonymous_users_get_nothing(api, campaign):
    token = campaign.items.first().token
    requests = [
        ("get", _url("review_campaigns")),
        ("get", _url("review_items", campaign.pk)),
        ("get", _url("review_next", campaign.pk)),
        ("get", _url("review_results", campaign.pk)),
        ("put", _url("review_response", token)),
        ("post", _url("review_skip", token)),
    ]
    for method, url in requests:
        body = {"scores": _scores()} if method == "put" else None
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code in (401, 403), url
    assert not ReviewResponse.objects.exists()


# Results


def test_review_results_are_for_curators_only(api, campaign, expert, plain_user):
    for user in (expert, plain_user):
        api.force_authenticate(user)
        response = api.get(_url("review_results", campaign.pk))
        assert response.status_code == 403
        assert "telea" not in response.content.decode()


def test_review_results_of_a_small_campaign_match_a_hand_count(
    api, curator, expert, second_expert, restorations
):
    telea, navier = restorations[0], restorations[1]
    campaign = _campaign(
        curator, [telea, navier], [expert, second_expert], criteria=["structure", "overall"]
    )
    telea_item = campaign.items.get(restoration=telea)
    navier_item = campaign.items.get(restoration=navier)
    review_submit(item=telea_item, expert=expert, scores={"structure": 4, "overall": 3})
    review_submit(item=navier_item, expert=expert, scores={"structure": 2, "overall": 2})
    review_submit(item=telea_item, expert=second_expert, scores={"structure": 5, "overall": 4})
    review_skip(item=navier_item, expert=second_expert)
    api.force_authenticate(curator)

    response = api.get(_url("review_results", campaign.pk))

    assert response.status_code == 200
    results = response.json()
    assert results["engines"] == ["navier_stokes", "telea"]
    assert [c["key"] for c in results["rubric"]] == ["structure", "overall"]
    structure = results["means"]["telea"]["structure"]
    # Mean of 4 and 5. Its t interval, 4.5 ± 12.7062 · 0.5 = [-1.85, 10.85], runs far off the
    # 1-5 scale: with two scores the answer is "too few scores", not an interval.
    assert structure == {"mean": 4.5, "low": None, "high": None, "n": 2, "note": "too few scores"}
    assert results["means"]["telea"]["overall"]["mean"] == 3.5
    assert results["means"]["navier_stokes"]["structure"] == {
        "mean": 2.0,
        "low": None,
        "high": None,
        "n": 1,
        "note": "too few scores",
    }
    assert results["agreement"]["structure"]["icc"] is None
    assert results["agreement"]["structure"]["icc_reason"] == "not every expert rated every item"
    assert results["experts"] == [
        {"username": "expert-two", "done": 1, "skipped": 1, "total": 2},
        {"username": "expert-user", "done": 2, "skipped": 0, "total": 2},
    ]
    assert results["counts"] == {"items": 2, "experts": 2, "responses": 3, "scores": 6}
    assert results["status"] == ReviewCampaign.Status.OPEN


# The blind rule

ENGINE_WORDS = sorted({*(name.lower() for name in settings.RESTORATION_ENGINES), "telea", "navier"})
ID_WORDS = ("job", "restoration", "engine")


def _leaks_in_text(text: str) -> list[str]:
    lowered = text.lower()
    found = [word for word in ENGINE_WORDS if word in lowered]
    found += [path for path in ("/restoration/", "restorations/") if path in lowered]
    return found


def _leaks_in_json(data, where="$") -> list[str]:
    """Engine names and media paths anywhere, and id-like field names among the keys."""
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            found += [f"{where}: key {key!r}" for word in ID_WORDS if word in key.lower()]
            found += [f"{where}: key {key!r} has {leak}" for leak in _leaks_in_text(key)]
            found += _leaks_in_json(value, f"{where}.{key}")
        return found
    if isinstance(data, list):
        return [
            leak for i, value in enumerate(data) for leak in _leaks_in_json(value, f"{where}[{i}]")
        ]
    if isinstance(data, str):
        found = [f"{where}: {leak}" for leak in _leaks_in_text(data)]
        return found + [f"{where}: value {data!r}" for word in ID_WORDS if data.lower() == word]
    return []


def _check(response, url) -> None:
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    leaks = [f"url: {leak}" for leak in _leaks_in_text(url)]
    leaks += [f"headers: {leak}" for leak in _leaks_in_text(headers)]
    if response.get("Content-Type", "").startswith("application/json") and response.content:
        leaks += _leaks_in_json(json.loads(response.content))
    assert not leaks, f"{url} reveals {leaks}"


def test_an_expert_can_reach_no_engine_name_through_the_api(
    curator, expert, second_expert, restorations
):
    campaign = _campaign(curator, restorations, [expert])
    _campaign(curator, restorations, [second_expert])
    api = APIClient()
    api.force_login(expert)  # the session an expert's browser has, image views included
    queue = review_queue(campaign=campaign, expert=expert)

    def call(method, url, expected=200, body=None):
        if method == "get":
            response = api.get(url)
        else:
            response = getattr(api, method)(url, body, format="json")
        assert response.status_code == expected, (url, response.status_code)
        _check(response, url)
        return response

    campaigns = call("get", _url("review_campaigns")).json()
    assert [c["id"] for c in campaigns] == [campaign.pk]
    items = call("get", _url("review_items", campaign.pk)).json()
    images = {url for item in items for url in item["images"].values()}
    nexts = [call("get", _url("review_next", campaign.pk)).json()]
    call("post", _url("review_skip", queue[0].token))
    for item in queue:
        call("put", _url("review_response", item.token), body={"scores": _scores(3)})
        last = item == queue[-1]
        response = call("get", _url("review_next", campaign.pk), expected=204 if last else 200)
        if response.status_code == 200:
            nexts.append(response.json())
    items = call("get", _url("review_items", campaign.pk)).json()
    assert {item["status"] for item in items} == {"submitted"}
    images |= {url for item in nexts for url in item["images"].values()}

    assert len(images) == 3 * len(queue)
    for url in images:
        response = api.get(url)
        assert response.status_code == 200, url
        _check(response, url)
    call("get", _url("review_results", campaign.pk), expected=403)


def test_the_checker_would_catch_a_leak():
    assert _leaks_in_json({"engine": "x"}) and _leaks_in_json({"a": ["Navier–Stokes"]})
    assert _leaks_in_json({"a": "/media/restorations/7/result.png"})
    assert _leaks_in_json({"job_id": 3}) and not _leaks_in_json({"token": "abc", "number": 1})


# Schema


def test_schema_lists_the_review_endpoints(api):
    response = api.get(reverse("api_schema"), {"format": "json"})

    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert {
        "/api/v1/review/campaigns/",
        "/api/v1/review/campaigns/{id}/items/",
        "/api/v1/review/campaigns/{id}/next/",
        "/api/v1/review/campaigns/{id}/results/",
        "/api/v1/review/items/{token}/response/",
        "/api/v1/review/items/{token}/skip/",
    } <= set(paths)
    assert "put" in paths["/api/v1/review/items/{token}/response/"]


def test_schema_of_the_review_endpoints_builds_without_warnings():
    out = io.StringIO()
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        __name__,
        "--format",
        "openapi-json",
        stdout=out,
    )
    assert "ReviewNextItem" in out.getvalue()
