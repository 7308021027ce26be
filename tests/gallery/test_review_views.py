"""Expert review pages: blind scoring, the blind rule, and the curator's set-up and results."""

import csv
import io
import re

import pytest
from django.conf import settings
from django.urls import reverse

from gallery.models import (
    DEFAULT_RUBRIC,
    ExpertScore,
    ReviewAssignment,
    ReviewCampaign,
    ReviewResponse,
)
from gallery.selectors.reviews import review_queue
from gallery.services.reviews import campaign_create, review_skip, review_submit

ALL_KEYS = [criterion["key"] for criterion in DEFAULT_RUBRIC]


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


def _item_url(campaign, item):
    return reverse("gallery:review_item", args=[campaign.pk, item.token])


def _post_scores(score=4, **overrides):
    data = {f"score-{key}": str(score) for key in ALL_KEYS}
    data.update(overrides)
    return data


# Expert side


def test_review_home_shows_the_experts_campaigns_with_progress(expert_client, campaign, expert):
    item = review_queue(campaign=campaign, expert=expert)[0]
    review_submit(item=item, expert=expert, scores=dict.fromkeys(ALL_KEYS, 3))

    response = expert_client.get(reverse("gallery:review_home"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Huashan pilot" in page and "1 of 4 scored" in page
    assert reverse("gallery:review_start", args=[campaign.pk]) in page


def test_review_home_refuses_plain_users(client, plain_user):
    client.force_login(plain_user)
    assert client.get(reverse("gallery:review_home")).status_code == 403


def test_review_start_sends_the_expert_to_their_first_item(expert_client, campaign, expert):
    first = review_queue(campaign=campaign, expert=expert)[0]

    response = expert_client.get(reverse("gallery:review_start", args=[campaign.pk]))

    assert response.status_code == 302
    assert response.url == _item_url(campaign, first)


def test_review_item_page_shows_reference_result_rubric_and_progress(
    expert_client, campaign, expert
):
    first = review_queue(campaign=campaign, expert=expert)[0]

    response = expert_client.get(_item_url(campaign, first))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Item 1 of 4" in page
    assert "Judge the restored area only." in page
    for criterion in DEFAULT_RUBRIC:
        assert criterion["label"] in page and criterion["help"] in page
    assert page.count('type="radio"') == 5 * len(DEFAULT_RUBRIC)
    assert '5</span><span class="word">Excellent' in page
    assert 'alt="Reference: ' in page and 'alt="Result: ' in page
    assert "data-sync-zoom" in page and "js/review.js" in page
    for kind in ("result.jpg", "reference.jpg", "outline.png"):
        assert f"/review/items/{first.token}/{kind}" in page


def test_review_item_post_saves_and_moves_on(expert_client, campaign, expert):
    first, second = review_queue(campaign=campaign, expert=expert)[:2]

    response = expert_client.post(
        _item_url(campaign, first), _post_scores(5, comment="Clean fill."), follow=True
    )

    assert response.redirect_chain[-1][0] == _item_url(campaign, second)
    assert "Item 2 of 4" in response.content.decode()
    saved = ReviewResponse.objects.get(item=first, expert=expert)
    assert saved.comment == "Clean fill." and saved.submitted_at is not None
    assert list(ExpertScore.objects.filter(item=first).values_list("score", flat=True)) == [5] * 6


def test_review_item_post_with_a_missing_score_keeps_what_was_entered(
    expert_client, campaign, expert
):
    first = review_queue(campaign=campaign, expert=expert)[0]
    data = _post_scores(2, comment="Half done")
    del data["score-texture"]

    response = expert_client.post(_item_url(campaign, first), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Give “Texture and material” a score from 1 to 5." in page
    assert 'name="score-colour" value="2" data-word="Poor" checked' in page
    assert 'name="score-texture" value="2" data-word="Poor" checked' not in page
    assert ">Half done</textarea>" in page
    assert not ReviewResponse.objects.exists()


def test_review_item_shows_earlier_scores_to_revise(expert_client, campaign, expert):
    first = review_queue(campaign=campaign, expert=expert)[0]
    review_submit(item=first, expert=expert, scores=dict.fromkeys(ALL_KEYS, 3), comment="Hmm")

    page = expert_client.get(_item_url(campaign, first)).content.decode()

    assert page.count('value="3" data-word="Fair" checked') == len(ALL_KEYS)
    assert ">Hmm</textarea>" in page


def test_review_skip_moves_on_and_brings_the_item_back_last(expert_client, campaign, expert):
    queue = review_queue(campaign=campaign, expert=expert)
    skip_url = reverse("gallery:review_skip", args=[campaign.pk, queue[0].token])

    response = expert_client.post(skip_url, follow=True)

    assert response.redirect_chain[-1][0] == _item_url(campaign, queue[1])
    for item in queue[1:]:
        review_submit(item=item, expert=expert, scores=dict.fromkeys(ALL_KEYS, 3))
    response = expert_client.get(reverse("gallery:review_start", args=[campaign.pk]))
    assert response.url == _item_url(campaign, queue[0])
    assert "You skipped this item earlier" in expert_client.get(response.url).content.decode()


def test_review_start_shows_done_when_everything_is_scored(expert_client, campaign, expert):
    for item in review_queue(campaign=campaign, expert=expert):
        review_submit(item=item, expert=expert, scores=dict.fromkeys(ALL_KEYS, 4))

    response = expert_client.get(reverse("gallery:review_start", args=[campaign.pk]))

    assert response.status_code == 200
    assert "All done" in response.content.decode()
    assert "You have scored all 4 items" in response.content.decode()


def test_review_of_a_closed_campaign_sends_the_expert_home(
    expert_client, campaign, expert, curator
):
    from gallery.services.reviews import campaign_close

    campaign_close(campaign=campaign, user=curator)
    item = review_queue(campaign=campaign, expert=expert)[0]

    response = expert_client.get(reverse("gallery:review_start", args=[campaign.pk]))
    assert response.url == reverse("gallery:review_home")
    response = expert_client.post(_item_url(campaign, item), _post_scores())
    assert response.status_code == 400
    assert "not open for scoring" in response.content.decode()


def test_review_image_streams_the_file_under_a_blind_name(expert_client, campaign, restorations):
    item = campaign.items.get(restoration=restorations[0])

    response = expert_client.get(
        reverse("gallery:review_image", args=[item.token, "result", "jpg"])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == f'inline; filename="item-{item.token}-result.jpg"'
    with restorations[0].preview.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()


@pytest.mark.parametrize(("reference", "field"), [("damaged", "input"), ("original", "motif")])
def test_review_image_reference_follows_the_campaign(
    client, curator, expert, restorations, reference, field
):
    campaign = _campaign(curator, restorations, [expert], reference=reference)
    item = campaign.items.get(restoration=restorations[0])
    client.force_login(expert)

    response = client.get(reverse("gallery:review_image", args=[item.token, "reference", "jpg"]))

    expected = (
        restorations[0].input_preview if field == "input" else restorations[0].job.motif.preview
    )
    with expected.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()


def test_review_image_is_for_assigned_experts_and_curators_only(
    client, campaign, curator, second_expert, plain_user
):
    item = campaign.items.first()
    url = reverse("gallery:review_image", args=[item.token, "outline", "png"])
    client.force_login(curator)
    assert client.get(url).status_code == 200
    client.force_login(second_expert)
    assert client.get(url).status_code == 404
    client.force_login(plain_user)
    assert client.get(url).status_code in (403, 404)
    wrong_extension = reverse("gallery:review_image", args=[item.token, "outline", "jpg"])
    client.force_login(curator)
    assert client.get(wrong_extension).status_code == 404


# The blind rule

ENGINE_WORDS = sorted({*settings.RESTORATION_ENGINES, "navier", "Navier", "Telea", "telea"})


def _leaks(text: str) -> list[str]:
    # An engine's name standing alone (between non-letters): "cut" names an engine, the
    # "Shortcuts" of the scoring page do not.
    found = [
        word
        for word in ENGINE_WORDS
        if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)
    ]
    if "/restoration/jobs/" in text:
        found.append("/restoration/jobs/")
    if "restorations/" in text:
        found.append("restorations/ media path")
    return found


def _check(response, url):
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    body = b"" if response.streaming else response.content
    text = body.decode("utf-8", errors="replace")
    leaks = _leaks(url) + _leaks(headers) + _leaks(text)
    assert not leaks, f"{url} reveals {leaks}"


def _fetch(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code in (200, 302), (url, response.status_code)
    _check(response, url)
    return response


def test_an_expert_can_reach_no_engine_name_anywhere(
    client, curator, expert, second_expert, motifs, restorations
):
    campaign = _campaign(curator, restorations, [expert])
    other = _campaign(curator, restorations, [second_expert])
    client.force_login(expert)

    pages = [
        reverse("gallery:review_home"),
        reverse("gallery:review_start", args=[campaign.pk]),
        reverse("heritage:motif_list"),
        *(reverse("heritage:motif_detail", args=[motif.pk]) for motif, _ in motifs),
    ]
    visited, images = set(), set()
    queue = review_queue(campaign=campaign, expert=expert)
    pages += [_item_url(campaign, item) for item in queue]
    while pages:
        url = pages.pop()
        if url in visited:
            continue
        visited.add(url)
        response = _fetch(client, url)
        if response.status_code == 302:
            pages.append(response.url)
            continue
        html = response.content.decode()
        images.update(re.findall(r'src="(/review/items/[^"]+)"', html))
    assert len(images) == 3 * len(queue)
    for url in images:
        response = _fetch(client, url)
        assert response.status_code == 200
        assert f"item-{url.split('/')[3]}-" in response["Content-Disposition"]

    # The last steps of the flow: scoring, skipping, the done page.
    for index, item in enumerate(queue):
        if index == 1:
            skip = reverse("gallery:review_skip", args=[campaign.pk, item.token])
            _check(client.post(skip, follow=True), skip)
        response = client.post(_item_url(campaign, item), _post_scores(3), follow=True)
        _check(response, _item_url(campaign, item))
        for hop, _ in response.redirect_chain:
            assert not _leaks(hop)
    assert "All done" in response.content.decode()

    # Pages that name engines stay closed to experts.
    job = restorations[0].job
    for url in (
        reverse("restoration:job_detail", args=[job.pk]),
        reverse("restoration:compare", args=[job.motif_id, job.annotation_id]),
        reverse("gallery:campaign_list"),
        reverse("gallery:campaign_create"),
        reverse("gallery:campaign_detail", args=[campaign.pk]),
        reverse("gallery:campaign_scores_csv", args=[campaign.pk]),
    ):
        assert client.get(url).status_code in (403, 404), url
    # Nor can they look into a campaign they are not part of.
    foreign = other.items.first()
    assert client.get(reverse("gallery:review_start", args=[other.pk])).status_code == 404
    assert client.get(_item_url(other, foreign)).status_code == 404
    for kind, ext in (("result", "jpg"), ("reference", "jpg"), ("outline", "png")):
        url = reverse("gallery:review_image", args=[foreign.token, kind, ext])
        assert client.get(url).status_code == 404


# Curator side


def test_campaign_create_form_lists_restorations_by_motif_with_engines(
    curator_client, restorations, motifs, expert
):
    motif = motifs[1][0]

    response = curator_client.get(reverse("gallery:campaign_create") + f"?motif={motif.pk}")

    page = response.content.decode()
    assert response.status_code == 200
    assert "telea" in page and "navier_stokes" in page and "expert-user" in page
    # The motif the curator came from is listed first, its restorations ticked.
    assert page.index("Demo motif 2") < page.index("Demo motif 1")
    for restoration in restorations:
        checked = f'value="{restoration.job_id}" checked' in page
        assert checked == (restoration.job.motif_id == motif.pk)


def test_campaign_create_post_creates_and_shows_results(
    curator_client, restorations, expert, curator
):
    data = {
        "title": "Engines on Huashan",
        "instructions": "Look closely.",
        "reference": "original",
        "restorations": [str(r.job_id) for r in restorations],
        "experts": [str(expert.pk)],
        "criteria": ["colour", "overall"],
        "open_now": "on",
    }

    response = curator_client.post(reverse("gallery:campaign_create"), data)

    campaign = ReviewCampaign.objects.get()
    assert response.url == reverse("gallery:campaign_detail", args=[campaign.pk])
    assert campaign.status == "open" and campaign.reference == "original"
    assert campaign.criteria == ["colour", "overall"] and campaign.created_by == curator
    assert campaign.items.count() == 4
    assert ReviewAssignment.objects.filter(campaign=campaign, expert=expert).exists()


def test_campaign_create_post_without_restorations_explains(curator_client, expert):
    response = curator_client.post(
        reverse("gallery:campaign_create"),
        {"title": "Empty", "reference": "damaged", "criteria": ["overall"]},
    )

    assert response.status_code == 400
    assert "Choose at least one restoration to review." in response.content.decode()
    assert not ReviewCampaign.objects.exists()


def test_campaign_detail_shows_means_agreement_completion_and_chart(
    curator_client, campaign, expert, second_expert, curator
):
    from gallery.services.reviews import campaign_invite

    campaign_invite(campaign=campaign, experts=[second_expert], user=curator)
    for who, score in ((expert, 2), (second_expert, 4)):
        for item in review_queue(campaign=campaign, expert=who)[:2]:
            review_submit(item=item, expert=who, scores=dict.fromkeys(ALL_KEYS, score))

    response = curator_client.get(reverse("gallery:campaign_detail", args=[campaign.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "telea" in page and "navier_stokes" in page
    assert "Krippendorff" in page and "ICC(2,k)" in page
    assert "not every expert rated every item" in page
    assert "2 of 4" in page and "expert-two" in page
    assert page.count('<svg class="chart"') == len(ALL_KEYS)
    assert "<title>Structural continuity: mean score per engine" in page
    assert reverse("gallery:campaign_close", args=[campaign.pk]) in page


def test_campaign_open_close_and_invite_buttons(curator_client, curator, restorations, expert):
    campaign = _campaign(curator, restorations, [], open_now=False)
    detail = reverse("gallery:campaign_detail", args=[campaign.pk])

    response = curator_client.post(reverse("gallery:campaign_open", args=[campaign.pk]))
    assert response.url == detail
    campaign.refresh_from_db()
    assert campaign.status == "draft"  # nobody invited yet

    curator_client.post(
        reverse("gallery:campaign_invite", args=[campaign.pk]), {"experts": [expert.pk]}
    )
    curator_client.post(reverse("gallery:campaign_open", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == "open"
    assert ReviewAssignment.objects.filter(campaign=campaign, expert=expert).exists()

    curator_client.post(reverse("gallery:campaign_close", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == "closed"


def test_campaign_scores_csv_exports_every_raw_score(curator_client, campaign, expert):
    item = review_queue(campaign=campaign, expert=expert)[0]
    review_submit(item=item, expert=expert, scores=dict.fromkeys(ALL_KEYS, 4), comment="ok, fine")
    review_skip(item=review_queue(campaign=campaign, expert=expert)[1], expert=expert)

    response = curator_client.get(reverse("gallery:campaign_scores_csv", args=[campaign.pk]))

    assert response["Content-Disposition"] == (
        f'attachment; filename="review-{campaign.pk}-scores.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == len(ALL_KEYS)
    assert {row["criterion"] for row in rows} == set(ALL_KEYS)
    assert {(row["item"], row["expert"], row["score"], row["comment"]) for row in rows} == {
        (item.token, "expert-user", "4", "ok, fine")
    }
    assert rows[0]["engine"] in settings.RESTORATION_ENGINES


def test_campaign_list_shows_campaigns(curator_client, campaign):
    response = curator_client.get(reverse("gallery:campaign_list"))
    assert "Huashan pilot" in response.content.decode()
    assert reverse("gallery:campaign_detail", args=[campaign.pk]) in response.content.decode()


def test_campaign_scores_csv_defuses_formulas_in_comments(curator_client, campaign, expert):
    item = review_queue(campaign=campaign, expert=expert)[0]
    comment = '=HYPERLINK("http://example.invalid","click")'
    review_submit(item=item, expert=expert, scores=dict.fromkeys(ALL_KEYS, 3), comment=comment)

    response = curator_client.get(reverse("gallery:campaign_scores_csv", args=[campaign.pk]))

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    # A spreadsheet shows the text instead of running it as a formula.
    assert {row["comment"] for row in rows} == {"'" + comment}
