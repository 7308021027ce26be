"""Writes of expert review: campaign set-up, opening and closing, scores and skips."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from gallery.models import (
    DEFAULT_RUBRIC,
    ExpertScore,
    ReviewAssignment,
    ReviewCampaign,
    ReviewItem,
    ReviewResponse,
)
from gallery.services.reviews import (
    campaign_close,
    campaign_create,
    campaign_invite,
    campaign_open,
    review_skip,
    review_submit,
)
from tests import factories

ALL_KEYS = [criterion["key"] for criterion in DEFAULT_RUBRIC]


def _campaign(curator, restorations, experts, **extra):
    extra.setdefault("open_now", True)
    return campaign_create(
        created_by=curator,
        title="Huashan pilot",
        reference="damaged",
        restorations=restorations,
        experts=experts,
        **extra,
    )


def _full(score=4):
    return dict.fromkeys(ALL_KEYS, score)


def test_campaign_create_makes_one_blind_item_per_restoration(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert], open_now=False)

    assert campaign.status == ReviewCampaign.Status.DRAFT
    assert campaign.opened_at is None
    items = ReviewItem.objects.filter(campaign=campaign)
    assert sorted(item.restoration_id for item in items) == sorted(r.pk for r in restorations)
    tokens = [item.token for item in items]
    assert len(set(tokens)) == 4
    assert all(len(token) == 17 and token[0].isalpha() for token in tokens)
    assignment = ReviewAssignment.objects.get(campaign=campaign)
    assert assignment.expert == expert
    assert campaign.rubric == DEFAULT_RUBRIC


def test_campaign_create_open_now_opens_it(curator, expert, restorations):
    campaign = _campaign(curator, restorations[:1], [expert], open_now=True)

    assert campaign.status == ReviewCampaign.Status.OPEN
    assert campaign.opened_at is not None


def test_campaign_create_keeps_the_rubric_order_and_freezes_it(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert], criteria=["overall", "structure"])

    assert campaign.criteria == ["structure", "overall"]
    campaign.rubric[0]["label"] = "changed"
    assert DEFAULT_RUBRIC[0]["label"] == "Structural continuity"


def test_campaign_create_refuses_non_curators(expert, restorations):
    with pytest.raises(PermissionDenied):
        _campaign(expert, restorations, [expert])
    assert not ReviewCampaign.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"restorations": []}, "at least one restoration"),
        ({"criteria": ["overall", "sparkle"]}, "Unknown criteria: sparkle"),
        ({"criteria": []}, "at least one criterion"),
        ({"reference": "neighbour"}, 'Unknown reference "neighbour"'),
        ({"title": "   "}, "needs a title"),
    ],
)
def test_campaign_create_refuses_bad_input(curator, expert, restorations, change, message):
    arguments = {
        "created_by": curator,
        "title": "Pilot",
        "reference": "original",
        "restorations": restorations,
        "experts": [expert],
        **change,
    }
    with pytest.raises(ValidationError, match=message):
        campaign_create(**arguments)
    assert not ReviewCampaign.objects.exists()


def test_campaign_create_refuses_invited_non_experts(curator, expert, plain_user, restorations):
    with pytest.raises(ValidationError, match='"plain-user" is not an expert'):
        _campaign(curator, restorations, [expert, plain_user])
    assert not ReviewItem.objects.exists()


def test_campaign_open_and_close_change_status_once(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert], open_now=False)

    campaign_open(campaign=campaign, user=curator)
    assert campaign.status == "open"
    with pytest.raises(ValidationError, match="already open"):
        campaign_open(campaign=campaign, user=curator)

    campaign_close(campaign=campaign, user=curator)
    assert campaign.status == "closed" and campaign.closed_at is not None
    with pytest.raises(ValidationError, match="Only an open campaign"):
        campaign_close(campaign=campaign, user=curator)

    # A closed campaign may be reopened, keeping when it first opened.
    first_opened = campaign.opened_at
    campaign_open(campaign=campaign, user=curator)
    assert campaign.status == "open" and campaign.opened_at == first_opened
    assert campaign.closed_at is None


def test_campaign_open_needs_an_expert(curator, restorations):
    campaign = _campaign(curator, restorations, [], open_now=False)

    with pytest.raises(ValidationError, match="at least one expert"):
        campaign_open(campaign=campaign, user=curator)
    with pytest.raises(PermissionDenied):
        campaign_close(campaign=campaign, user=factories.make_user("x", role="expert"))


def test_campaign_invite_adds_only_new_experts(curator, expert, second_expert, restorations):
    campaign = _campaign(curator, restorations, [expert])
    seed = ReviewAssignment.objects.get(campaign=campaign, expert=expert).order_seed

    added = campaign_invite(campaign=campaign, experts=[expert, second_expert], user=curator)

    assert added == 1
    assignments = ReviewAssignment.objects.filter(campaign=campaign)
    assert {a.expert_id for a in assignments} == {expert.pk, second_expert.pk}
    assert ReviewAssignment.objects.get(campaign=campaign, expert=expert).order_seed == seed


def test_campaign_invite_refuses_non_experts_and_closed(curator, expert, plain_user, restorations):
    campaign = _campaign(curator, restorations, [expert])
    with pytest.raises(ValidationError, match="not an expert"):
        campaign_invite(campaign=campaign, experts=[plain_user], user=curator)
    campaign_close(campaign=campaign, user=curator)
    with pytest.raises(ValidationError, match="closed"):
        campaign_invite(campaign=campaign, experts=[expert], user=curator)


def test_review_submit_stores_every_score(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert])
    item = campaign.items.first()
    scores = {"structure": 5, "colour": "4", "texture": 3, "style": "2", "restraint": 1}

    response = review_submit(
        item=item, expert=expert, scores={**scores, "overall": 3}, comment="  Seams visible. "
    )

    assert response.submitted_at is not None and not response.skipped
    assert response.comment == "Seams visible."
    stored = dict(
        ExpertScore.objects.filter(item=item, expert=expert).values_list("criterion", "score")
    )
    assert stored == {
        "structure": 5,
        "colour": 4,
        "texture": 3,
        "style": 2,
        "restraint": 1,
        "overall": 3,
    }


def test_review_submit_twice_updates_instead_of_duplicating(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert])
    item = campaign.items.first()
    first = review_submit(item=item, expert=expert, scores=_full(2), comment="first")

    second = review_submit(item=item, expert=expert, scores=_full(5), comment="second")

    assert second.pk == first.pk
    assert ReviewResponse.objects.count() == 1
    assert ExpertScore.objects.count() == len(ALL_KEYS)
    assert set(ExpertScore.objects.values_list("score", flat=True)) == {5}
    assert ReviewResponse.objects.get().comment == "second"


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({**_full(), "colour": None}, "Give “Colour and tone” a score from 1 to 5."),
        ({key: 3 for key in ALL_KEYS if key != "overall"}, "Give “Overall” a score"),
        ({**_full(), "texture": 6}, "“Texture and material” takes a whole number from 1 to 5"),
        ({**_full(), "texture": 0}, "not “0”"),
        ({**_full(), "style": "3.5"}, "“Style fidelity” takes a whole number"),
        ({**_full(), "style": "good"}, "not “good”"),
        ({**_full(), "style": True}, "“Style fidelity” takes a whole number"),
        ({**_full(), "sparkle": 4}, "does not score sparkle"),
    ],
)
def test_review_submit_names_the_bad_criterion(curator, expert, restorations, scores, message):
    campaign = _campaign(curator, restorations, [expert])
    item = campaign.items.first()

    with pytest.raises(ValidationError) as raised:
        review_submit(item=item, expert=expert, scores=scores)

    assert any(message in text for text in raised.value.messages), raised.value.messages
    assert not ReviewResponse.objects.exists() and not ExpertScore.objects.exists()


def test_review_submit_errors_are_keyed_by_criterion(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert], criteria=["colour", "overall"])
    item = campaign.items.first()

    with pytest.raises(ValidationError) as raised:
        review_submit(item=item, expert=expert, scores={"colour": "", "overall": 9})

    assert set(raised.value.message_dict) == {"colour", "overall"}


def test_review_submit_needs_an_open_campaign_and_an_assigned_expert(
    curator, expert, second_expert, restorations
):
    campaign = _campaign(curator, restorations, [expert], open_now=False)
    item = campaign.items.first()
    with pytest.raises(ValidationError, match="not open"):
        review_submit(item=item, expert=expert, scores=_full())
    campaign_open(campaign=campaign, user=curator)
    with pytest.raises(PermissionDenied):
        review_submit(item=item, expert=second_expert, scores=_full())
    campaign_close(campaign=campaign, user=curator)
    item.refresh_from_db()
    with pytest.raises(ValidationError, match="not open"):
        review_submit(item=item, expert=expert, scores=_full())
    assert not ReviewResponse.objects.exists()


def test_review_skip_then_submit_clears_the_skip(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert])
    item = campaign.items.first()

    skipped = review_skip(item=item, expert=expert)
    assert skipped.skipped and skipped.submitted_at is None
    assert review_skip(item=item, expert=expert).pk == skipped.pk

    submitted = review_submit(item=item, expert=expert, scores=_full())
    assert submitted.pk == skipped.pk
    assert not submitted.skipped and submitted.submitted_at is not None


def test_review_skip_refuses_a_scored_item(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert])
    item = campaign.items.first()
    review_submit(item=item, expert=expert, scores=_full(3))

    with pytest.raises(ValidationError, match="already scored"):
        review_skip(item=item, expert=expert)
    assert ExpertScore.objects.filter(item=item, score=3).count() == len(ALL_KEYS)
