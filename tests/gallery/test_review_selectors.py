"""Reads of expert review: queues, progress, and per-campaign results on hand-computed data."""

import math
import random

import numpy as np
import pytest

from gallery.models import DEFAULT_RUBRIC, ReviewAssignment
from gallery.selectors.reviews import (
    ICC_INCOMPLETE,
    SCORE_COLUMNS,
    campaign_results,
    campaign_scores_rows,
    campaigns_for_expert,
    review_answers,
    review_next,
    review_progress,
    review_queue,
)
from gallery.services.reviews import campaign_close, campaign_create, review_skip, review_submit
from gallery.stats import krippendorff_alpha_ordinal

ALL_KEYS = [criterion["key"] for criterion in DEFAULT_RUBRIC]
# Student t quantile for 95% with 3 degrees of freedom (four scores per cell).
T_975_3 = 3.182446305284


def _campaign(curator, restorations, experts, **extra):
    extra.setdefault("open_now", True)
    return campaign_create(
        created_by=curator,
        title="Pilot",
        reference="damaged",
        restorations=restorations,
        experts=experts,
        **extra,
    )


def _seed(campaign, expert, seed):
    ReviewAssignment.objects.filter(campaign=campaign, expert=expert).update(order_seed=seed)


def _items_by_restoration(campaign, restorations):
    items = {item.restoration_id: item for item in campaign.items.all()}
    return [items[restoration.pk] for restoration in restorations]


def test_review_queue_is_stable_per_expert_and_differs_between_experts(
    curator, expert, second_expert, restorations
):
    campaign = _campaign(curator, restorations, [expert, second_expert])
    # Seeds 0 and 1 shuffle four items into different orders.
    _seed(campaign, expert, 0)
    _seed(campaign, second_expert, 1)
    ids = sorted(campaign.items.values_list("pk", flat=True))

    first = [item.pk for item in review_queue(campaign=campaign, expert=expert)]
    second = [item.pk for item in review_queue(campaign=campaign, expert=second_expert)]

    expected = list(ids)
    random.Random(0).shuffle(expected)
    assert first == expected
    assert sorted(first) == sorted(second) == ids
    assert first != second
    assert [item.pk for item in review_queue(campaign=campaign, expert=expert)] == first


def test_review_queue_is_empty_for_someone_not_assigned(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert])
    assert review_queue(campaign=campaign, expert=curator) == []
    assert review_next(campaign=campaign, expert=curator) is None


def test_review_next_goes_through_unseen_then_skipped_items(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert])
    queue = review_queue(campaign=campaign, expert=expert)
    assert review_next(campaign=campaign, expert=expert) == queue[0]

    review_skip(item=queue[0], expert=expert)
    review_submit(item=queue[1], expert=expert, scores=dict.fromkeys(ALL_KEYS, 3))
    assert review_next(campaign=campaign, expert=expert) == queue[2]

    review_skip(item=queue[2], expert=expert)
    review_submit(item=queue[3], expert=expert, scores=dict.fromkeys(ALL_KEYS, 3))
    # Only skipped items remain: the first of them comes back.
    assert review_next(campaign=campaign, expert=expert) == queue[0]
    assert review_progress(campaign=campaign, expert=expert) == (2, 4)

    for item in (queue[0], queue[2]):
        review_submit(item=item, expert=expert, scores=dict.fromkeys(ALL_KEYS, 4))
    assert review_next(campaign=campaign, expert=expert) is None
    assert review_progress(campaign=campaign, expert=expert) == (4, 4)


def test_campaigns_for_expert_lists_open_assigned_campaigns_with_progress(
    curator, expert, second_expert, restorations
):
    mine = _campaign(curator, restorations, [expert])
    _campaign(curator, restorations, [expert], open_now=False)  # draft: not listed
    _campaign(curator, restorations, [second_expert])  # not assigned: not listed
    closed = _campaign(curator, restorations, [expert])
    campaign_close(campaign=closed, user=curator)
    item = review_queue(campaign=mine, expert=expert)[0]
    review_submit(item=item, expert=expert, scores=dict.fromkeys(ALL_KEYS, 2))
    review_skip(item=review_queue(campaign=mine, expert=expert)[1], expert=expert)

    listed = campaigns_for_expert(expert=expert)

    assert [(entry.campaign, entry.done, entry.total) for entry in listed] == [(mine, 1, 4)]


def _score(item, expert, structure, overall=3):
    review_submit(item=item, expert=expert, scores={"structure": structure, "overall": overall})


@pytest.fixture
def scored(curator, expert, second_expert, restorations):
    """Two experts, four items (m1-telea, m1-ns, m2-telea, m2-ns), structure and overall.

    structure  m1-telea m1-ns m2-telea m2-ns
    expert        1       2      3       4
    second        2       2      4       4
    Every overall score is 3.
    """
    campaign = _campaign(
        curator, restorations, [expert, second_expert], criteria=["structure", "overall"]
    )
    items = _items_by_restoration(campaign, restorations)
    for item, first, second in zip(items, (1, 2, 3, 4), (2, 2, 4, 4), strict=True):
        _score(item, expert, first)
        _score(item, second_expert, second)
    return campaign, items


def test_campaign_results_means_match_hand_computed_values(scored):
    campaign, _ = scored

    results = campaign_results(campaign=campaign)

    assert results["engines"] == ["navier_stokes", "telea"]
    telea = results["means"][("telea", "structure")]
    # Scores 1, 3, 2, 4: mean 2.5, sd sqrt(5/3), half width t * sd / sqrt(4).
    half = T_975_3 * math.sqrt(5 / 3) / 2
    assert telea.n == 4 and telea.value == pytest.approx(2.5)
    # 2.5 - half is below the scale's 1: the interval is clipped there, and says so.
    assert (telea.low, telea.high) == pytest.approx((1, 2.5 + half))
    assert 2.5 - half < 1 and telea.note == "clipped to the 1-5 scale"
    navier = results["means"][("navier_stokes", "structure")]
    # Scores 2, 4, 2, 4: mean 3, sd sqrt(4/3).
    half = T_975_3 * math.sqrt(4 / 3) / 2
    assert (navier.value, navier.low, navier.high) == pytest.approx((3, 3 - half, 3 + half))
    assert results["means"][("telea", "overall")].value == 3
    assert [row["engine"] for row in results["rows"]] == ["navier_stokes", "telea"]
    assert results["rows"][1]["cells"][0] == telea


def test_campaign_results_agreement_matches_hand_computed_values(scored):
    campaign, _ = scored

    structure, overall = campaign_results(campaign=campaign)["agreement"]

    # Ordinal alpha by hand: coincidences (1,2) (2,2)x2 (3,4) (4,4)x2, marginals n1=1 n2=3
    # n3=1 n4=3, n=8; sum o*d = 16, sum n_c*n_k*d = 608; alpha = 1 - 7*16/608 = 31/38.
    assert structure["key"] == "structure"
    assert structure["alpha"] == pytest.approx(31 / 38)
    # ICC(2,k) by hand: BMS = 8.5/3, JMS = 0.5, EMS = 0.5/3, n = 4: (BMS-EMS)/(BMS+(JMS-EMS)/n)
    # = 32/35.
    assert structure["icc"] == pytest.approx(32 / 35)
    assert "agree well" in structure["alpha_reading"]
    # Everyone gave 3: no spread, so neither coefficient is defined.
    assert overall["alpha"] is None and overall["icc"] is None
    assert overall["icc_note"] != ICC_INCOMPLETE


def test_campaign_results_without_a_complete_matrix_has_no_icc(
    curator, expert, second_expert, restorations
):
    campaign = _campaign(
        curator, restorations, [expert, second_expert], criteria=["structure", "overall"]
    )
    items = _items_by_restoration(campaign, restorations)
    for item, score in zip(items, (1, 2, 3, 4), strict=True):
        _score(item, expert, score)
    for item, score in zip(items[:3], (2, 2, 4), strict=True):
        _score(item, second_expert, score)
    review_skip(item=items[3], expert=second_expert)

    results = campaign_results(campaign=campaign)

    structure = results["agreement"][0]
    assert structure["icc"] is None and structure["icc_note"] == ICC_INCOMPLETE
    expected = np.array([[1, 2, 3, 4], [2, 2, 4, np.nan]])
    if expert.username > second_expert.username:
        expected = expected[::-1]
    assert structure["alpha"] == pytest.approx(
        krippendorff_alpha_ordinal(expected, value_domain=range(1, 6))
    )
    completion = {
        row["expert"]: (row["done"], row["skipped"], row["total"]) for row in results["experts"]
    }
    assert completion == {expert: (4, 0, 4), second_expert: (3, 1, 4)}
    assert results["counts"] == {"items": 4, "experts": 2, "responses": 7, "scores": 14}
    assert results["means"][("telea", "structure")].n == 4
    assert results["means"][("navier_stokes", "structure")].n == 3


def test_campaign_results_of_an_unscored_campaign(curator, expert, restorations):
    campaign = _campaign(curator, restorations, [expert])

    results = campaign_results(campaign=campaign)

    assert all(estimate.n == 0 and estimate.value is None for estimate in results["means"].values())
    assert all(row["alpha"] is None and row["icc"] is None for row in results["agreement"])
    assert results["experts"][0]["done"] == 0


def test_campaign_scores_rows_has_one_row_per_score(scored, expert, second_expert):
    campaign, items = scored
    response = review_submit(
        item=items[0], expert=expert, scores={"structure": 5, "overall": 4}, comment="Good seam"
    )

    rows = [
        dict(zip(SCORE_COLUMNS, row, strict=True))
        for row in campaign_scores_rows(campaign=campaign)
    ]

    assert len(rows) == 16  # 4 items x 2 experts x 2 criteria
    # By item, then expert name ("expert-two" before "expert-user"), then rubric order.
    assert [row["item"] for row in rows[:4]] == [items[0].token] * 4
    assert [row["expert"] for row in rows[:4]] == ["expert-two"] * 2 + ["expert-user"] * 2
    assert rows[2] == {
        "campaign": "Pilot",
        "item": items[0].token,
        "motif": "Demo motif 1",
        "engine": "telea",
        "expert": "expert-user",
        "criterion": "structure",
        "score": 5,
        "comment": "Good seam",
        "submitted_at": response.submitted_at.isoformat(),
    }
    assert (rows[3]["criterion"], rows[3]["score"]) == ("overall", 4)
    assert rows[0]["comment"] == ""


def test_review_answers_gives_each_items_answer_in_two_queries(
    curator, expert, second_expert, restorations, django_assert_num_queries
):
    campaign = _campaign(curator, restorations, [expert, second_expert])
    first, second, third, _ = _items_by_restoration(campaign, restorations)
    review_submit(item=first, expert=expert, scores=dict.fromkeys(ALL_KEYS, 4), comment="ok")
    review_skip(item=second, expert=expert)
    review_submit(item=third, expert=second_expert, scores=dict.fromkeys(ALL_KEYS, 2))

    with django_assert_num_queries(2):
        answers = review_answers(campaign=campaign, expert=expert)

    assert set(answers) == {first.pk, second.pk}
    response, scores = answers[first.pk]
    assert (response.comment, scores) == ("ok", dict.fromkeys(ALL_KEYS, 4))
    response, scores = answers[second.pk]
    assert response.skipped and scores == {}
