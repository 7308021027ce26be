"""Reads of expert review: each expert's queue and progress, campaign results and raw scores."""

import random
from collections import defaultdict
from dataclasses import dataclass
from itertools import groupby

import numpy as np
from django.db.models import Count, Q, QuerySet

from gallery.models import (
    ExpertScore,
    ReviewAssignment,
    ReviewCampaign,
    ReviewItem,
    ReviewResponse,
)
from gallery.results import RESULT_RELATED, result_of
from gallery.stats import icc2k, krippendorff_alpha_ordinal, mean_ci
from heritage.models import Motif, User
from restoration.models import Restoration

SCALE_VALUES = (1, 2, 3, 4, 5)
ICC_INCOMPLETE = "not every expert rated every item"
ICC_UNDEFINED = "undefined: needs two or more items and experts, and some spread in the scores"
ALPHA_UNDEFINED = (
    "Not computed: needs two or more items scored by at least two experts, and some spread."
)
SCORE_COLUMNS = (
    "campaign",
    "item",
    "motif",
    "engine",
    "expert",
    "criterion",
    "score",
    "comment",
    "submitted_at",
)


@dataclass(frozen=True)
class CampaignProgress:
    campaign: ReviewCampaign
    done: int
    total: int


def _submitted() -> Q:
    return Q(submitted_at__isnull=False, skipped=False)


def assignment_of(*, campaign: ReviewCampaign, expert: User) -> ReviewAssignment | None:
    return ReviewAssignment.objects.filter(campaign=campaign, expert=expert).first()


def user_can_review(*, campaign: ReviewCampaign, user: User) -> bool:
    """Assigned experts take part; curators may look at what experts see."""
    if not user.is_authenticated:
        return False
    return user.is_curator or assignment_of(campaign=campaign, expert=user) is not None


def review_queue(*, campaign: ReviewCampaign, expert: User) -> list[ReviewItem]:
    """The campaign's items in this expert's own order (stable for them); [] if not assigned."""
    assignment = assignment_of(campaign=campaign, expert=expert)
    if assignment is None:
        return []
    items = {
        item.pk: item
        for item in ReviewItem.objects.filter(campaign=campaign).select_related(*RESULT_RELATED)
    }
    order = sorted(items)
    random.Random(assignment.order_seed).shuffle(order)
    return [items[pk] for pk in order]


def _responses(*, campaign: ReviewCampaign, expert: User) -> dict[int, ReviewResponse]:
    responses = ReviewResponse.objects.filter(item__campaign=campaign, expert=expert)
    return {response.item_id: response for response in responses}


def review_next(*, campaign: ReviewCampaign, expert: User) -> ReviewItem | None:
    """The first item not yet seen; when only skipped ones remain, the first skipped; else None."""
    responses = _responses(campaign=campaign, expert=expert)
    queue = review_queue(campaign=campaign, expert=expert)
    for item in queue:
        if item.pk not in responses:
            return item
    for item in queue:
        if responses[item.pk].submitted_at is None:
            return item
    return None


def review_progress(*, campaign: ReviewCampaign, expert: User) -> tuple[int, int]:
    """(items this expert submitted, items in the campaign)."""
    done = ReviewResponse.objects.filter(
        _submitted(), item__campaign=campaign, expert=expert
    ).count()
    return done, ReviewItem.objects.filter(campaign=campaign).count()


def review_response_of(*, item: ReviewItem, expert: User) -> tuple[ReviewResponse | None, dict]:
    """The expert's earlier response to the item and its scores by criterion, to revise them."""
    response = ReviewResponse.objects.filter(item=item, expert=expert).first()
    scores = dict(
        ExpertScore.objects.filter(item=item, expert=expert).values_list("criterion", "score")
    )
    return response, scores


def review_answers(*, campaign: ReviewCampaign, expert: User) -> dict[int, tuple]:
    """Per item id, the expert's response (or None) and scores by criterion, in two queries."""
    responses = {
        response.item_id: response
        for response in ReviewResponse.objects.filter(item__campaign=campaign, expert=expert)
    }
    scores: dict[int, dict] = {}
    for item_id, criterion, score in ExpertScore.objects.filter(
        item__campaign=campaign, expert=expert
    ).values_list("item_id", "criterion", "score"):
        scores.setdefault(item_id, {})[criterion] = score
    items = set(responses) | set(scores)
    return {item_id: (responses.get(item_id), scores.get(item_id, {})) for item_id in items}


def campaigns_for_expert(*, expert: User) -> list[CampaignProgress]:
    """Open campaigns the expert is assigned to, newest first, with their progress."""
    campaigns = (
        ReviewCampaign.objects.filter(
            status=ReviewCampaign.Status.OPEN,
            pk__in=ReviewAssignment.objects.filter(expert=expert).values("campaign_id"),
        )
        .annotate(
            total=Count("items", distinct=True),
            done=Count(
                "items__responses",
                filter=Q(
                    items__responses__expert=expert,
                    items__responses__skipped=False,
                    items__responses__submitted_at__isnull=False,
                ),
                distinct=True,
            ),
        )
        .order_by("-opened_at", "-id")
    )
    return [CampaignProgress(c, c.done, c.total) for c in campaigns]


def review_item_for_image(*, token: str, user: User) -> ReviewItem | None:
    """The item behind an image URL, for its assigned experts and curators only."""
    if not user.is_authenticated:
        return None
    item = (
        ReviewItem.objects.select_related("campaign", *RESULT_RELATED).filter(token=token).first()
    )
    if item is None or not user_can_review(campaign=item.campaign, user=user):
        return None
    return item


def campaign_list() -> QuerySet[ReviewCampaign]:
    """Every campaign, newest first, with its numbers of items, experts and submissions."""
    return ReviewCampaign.objects.annotate(
        item_count=Count("items", distinct=True),
        expert_count=Count("experts", distinct=True),
        submitted_count=Count(
            "items__responses",
            filter=Q(items__responses__skipped=False, items__responses__submitted_at__isnull=False),
            distinct=True,
        ),
    ).order_by("-created_at", "-id")


def campaign_restoration_groups(*, motif_id: int | None = None) -> list[tuple[Motif, list]]:
    """Finished restorations grouped by motif (only `motif_id`'s when given), for choosing items."""
    restorations = Restoration.objects.select_related("job__motif", "job__annotation").order_by(
        "job__motif__title", "job__motif_id", "job__annotation_id", "engine", "-created_at"
    )
    if motif_id is not None:
        restorations = restorations.filter(job__motif_id=motif_id)
    return [
        (motif, list(group))
        for motif, group in groupby(restorations, key=lambda restoration: restoration.job.motif)
    ]


def campaign_experts(*, campaign: ReviewCampaign) -> list[User]:
    return list(
        User.objects.filter(
            pk__in=ReviewAssignment.objects.filter(campaign=campaign).values("expert_id")
        ).order_by("username")
    )


def experts_not_in(*, campaign: ReviewCampaign) -> QuerySet[User]:
    """Active experts who could still be invited."""
    return (
        User.objects.filter(role=User.Role.EXPERT, is_active=True)
        .exclude(pk__in=ReviewAssignment.objects.filter(campaign=campaign).values("expert_id"))
        .order_by("username")
    )


def _alpha_reading(alpha: float | None) -> str:
    # Krippendorff's own thresholds (Content Analysis, 2004): rely on >= .800, tentative >= .667.
    if alpha is None:
        return ALPHA_UNDEFINED
    if alpha >= 0.8:
        return "The experts agree well: the scores can be relied on."
    if alpha >= 0.667:
        return "The experts agree moderately: draw only tentative conclusions."
    return "The experts disagree too much to rely on these scores."


def _icc_reading(icc: float | None, note: str) -> str:
    # Koo & Li (2016): below .5 poor, .5-.75 moderate, .75-.9 good, above .9 excellent.
    if icc is None:
        return f"Not computed: {note}."
    if icc >= 0.9:
        return "The mean of the experts' scores is excellently reliable."
    if icc >= 0.75:
        return "The mean of the experts' scores is reliable."
    if icc >= 0.5:
        return "The mean of the experts' scores is only moderately reliable."
    return "The mean of the experts' scores is poorly reliable."


def _agreement(criterion: dict, matrix: np.ndarray) -> dict:
    """Alpha over whatever was rated, ICC(2,k) only over a complete experts x items matrix."""
    rated_rows = ~np.isnan(matrix).all(axis=1)
    alpha = None
    if rated_rows.any():
        alpha = krippendorff_alpha_ordinal(matrix[rated_rows], value_domain=SCALE_VALUES)
    icc, icc_note = None, ICC_INCOMPLETE
    if matrix.size and not np.isnan(matrix).any():
        icc = icc2k(matrix.T)
        icc_note = "" if icc is not None else ICC_UNDEFINED
    return {
        "key": criterion["key"],
        "label": criterion["label"],
        "alpha": alpha,
        "alpha_note": "" if alpha is not None else ALPHA_UNDEFINED,
        "alpha_reading": _alpha_reading(alpha),
        "icc": icc,
        "icc_note": icc_note,
        "icc_reading": _icc_reading(icc, icc_note),
    }


def campaign_results(*, campaign: ReviewCampaign) -> dict:
    """Mean with 95% CI per engine and criterion, agreement per criterion, expert completion.

    Keys: criteria (the rubric), engines, means {(engine, criterion): Estimate}, rows (per engine,
    estimates in rubric order), agreement (per criterion: alpha, icc and why either is missing),
    experts (per expert: done, skipped, total), counts (items, experts, responses, scores).
    """
    criteria = [criterion["key"] for criterion in campaign.rubric]
    items = list(
        ReviewItem.objects.filter(campaign=campaign).select_related(*RESULT_RELATED).order_by("id")
    )
    engine_of = {item.pk: result_of(item).engine for item in items}
    engines = sorted(set(engine_of.values()))
    experts = campaign_experts(campaign=campaign)
    row_of = {expert.pk: row for row, expert in enumerate(experts)}
    column_of = {item.pk: column for column, item in enumerate(items)}
    matrices = {key: np.full((len(experts), len(items)), np.nan) for key in criteria}
    values = defaultdict(list)
    scores = ExpertScore.objects.filter(
        item__campaign=campaign, criterion__in=criteria, expert_id__in=row_of
    ).values_list("item_id", "expert_id", "criterion", "score")
    count = 0
    for item_id, expert_id, criterion, score in scores:
        values[(engine_of[item_id], criterion)].append(score)
        matrices[criterion][row_of[expert_id], column_of[item_id]] = score
        count += 1
    # Scores are 1 to 5: a t interval running past either end is clipped there (and says so).
    scale = (min(SCALE_VALUES), max(SCALE_VALUES))
    means = {(e, c): mean_ci(values[(e, c)], bounds=scale) for e in engines for c in criteria}
    responses = ReviewResponse.objects.filter(item__campaign=campaign, expert_id__in=row_of)
    done, skipped = defaultdict(int), defaultdict(int)
    for expert_id, submitted_at, was_skipped in responses.values_list(
        "expert_id", "submitted_at", "skipped"
    ):
        if submitted_at is not None and not was_skipped:
            done[expert_id] += 1
        elif was_skipped:
            skipped[expert_id] += 1
    return {
        "criteria": campaign.rubric,
        "engines": engines,
        "means": means,
        "rows": [{"engine": e, "cells": [means[(e, c)] for c in criteria]} for e in engines],
        "agreement": [_agreement(c, matrices[c["key"]]) for c in campaign.rubric],
        "experts": [
            {"expert": x, "done": done[x.pk], "skipped": skipped[x.pk], "total": len(items)}
            for x in experts
        ],
        "counts": {
            "items": len(items),
            "experts": len(experts),
            "responses": sum(done.values()),
            "scores": count,
        },
    }


def campaign_scores_rows(*, campaign: ReviewCampaign) -> list[tuple]:
    """One row per score, in SCORE_COLUMNS order, by item, expert and rubric order."""
    order = {key: index for index, key in enumerate(campaign.criteria)}
    comments = {
        (r.item_id, r.expert_id): r
        for r in ReviewResponse.objects.filter(item__campaign=campaign, submitted_at__isnull=False)
    }
    scores = ExpertScore.objects.filter(item__campaign=campaign).select_related(
        "expert", *(f"item__{path}" for path in RESULT_RELATED)
    )
    rows = []
    for score in sorted(
        scores,
        key=lambda s: (s.item_id, s.expert.get_username(), order.get(s.criterion, len(order))),
    ):
        result = result_of(score.item)
        response = comments.get((score.item_id, score.expert_id))
        rows.append(
            (
                campaign.title,
                score.item.token,
                result.motif.title,
                result.engine,
                score.expert.get_username(),
                score.criterion,
                score.score,
                response.comment if response else "",
                response.submitted_at.isoformat() if response else "",
            )
        )
    return rows
