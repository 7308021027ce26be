"""Writes of blind expert review: campaign set-up, opening and closing, scores and skips."""

import copy
import secrets
from collections.abc import Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from gallery.models import (
    RUBRICS,
    ExpertScore,
    ResultKind,
    ReviewAssignment,
    ReviewCampaign,
    ReviewItem,
    ReviewResponse,
    opaque_token,
)
from gallery.results import kind_of
from heritage.models import User
from restoration.models import Restoration

COMMENT_MAX_LENGTH = 5000
TITLE_MAX_LENGTH = ReviewCampaign._meta.get_field("title").max_length


def _require_curator(user: User | None) -> None:
    if user is None or not user.is_curator:
        raise PermissionDenied("Only curators can manage review campaigns.")


def _order_seed() -> int:
    # BigIntegerField is signed 64-bit; 62 random bits fit with room to spare.
    return secrets.randbits(62)


# What experts compare a result with, by the kind of result.
REFERENCES = {
    ResultKind.RESTORATION: (ReviewCampaign.Reference.DAMAGED, ReviewCampaign.Reference.ORIGINAL),
    ResultKind.STYLIZED: (ReviewCampaign.Reference.PHOTOGRAPH,),
}


def _rubric(criteria: Iterable[str] | None, kind: str = ResultKind.RESTORATION) -> list[dict]:
    """The chosen criteria of the kind's rubric (RUBRICS), in its order, copied so they stay
    fixed."""
    preset = RUBRICS[kind]
    if criteria is None:
        return copy.deepcopy(preset)
    chosen = set(criteria)
    unknown = sorted(chosen - {criterion["key"] for criterion in preset})
    if unknown:
        rubric = "style" if kind == ResultKind.STYLIZED else "restoration"
        raise ValidationError(
            f"Unknown criteria: {', '.join(unknown)} (not in the {rubric} rubric).",
            code="unknown_criterion",
        )
    if not chosen:
        raise ValidationError("Choose at least one criterion to score.", code="no_criteria")
    return [copy.deepcopy(c) for c in preset if c["key"] in chosen]


def result_kind(restorations: Iterable[Restoration]) -> str:
    """The one kind of result the campaign's items are; ValidationError if they mix kinds."""
    kinds = [kind_of(restoration) for restoration in restorations]
    stylized = kinds.count(ResultKind.STYLIZED)
    if stylized and stylized != len(kinds):
        raise ValidationError(
            "A campaign holds one kind of result, scored on one rubric: you chose "
            f"{len(kinds) - stylized} restoration(s) and {stylized} stylized image(s). Make one "
            "campaign for each.",
            code="mixed_kinds",
        )
    return ResultKind.STYLIZED if stylized else ResultKind.RESTORATION


def _reference(reference: str | None, kind: str) -> str:
    allowed = REFERENCES[kind]
    if reference is None:
        return allowed[0]
    if reference not in ReviewCampaign.Reference.values:
        raise ValidationError(
            f'Unknown reference "{reference}": show the damaged input or the original.',
            code="bad_reference",
        )
    if reference not in allowed:
        if kind == ResultKind.STYLIZED:
            message = "Stylized images are scored beside the photograph they were made from."
        else:
            message = "Restorations are scored beside the damaged input or the original."
        raise ValidationError(message, code="bad_reference")
    return reference


def _check_experts(experts: Iterable[User]) -> list[User]:
    experts = list({expert.pk: expert for expert in experts}.values())
    for expert in experts:
        if not expert.is_expert:
            raise ValidationError(
                f'"{expert.get_username()}" is not an expert: only experts can be invited.',
                code="not_expert",
            )
    return experts


def campaign_create(
    *,
    created_by: User,
    title: str,
    instructions: str = "",
    reference: str | None = None,
    restorations: Iterable[Restoration],
    experts: Iterable[User],
    criteria: Iterable[str] | None = None,
    open_now: bool = False,
) -> ReviewCampaign:
    """A campaign with one blind item per result and an assignment per expert.

    The results are all restorations or all stylized images (both are Restoration rows); the
    campaign keeps that kind, scores on its rubric (RUBRICS; `criteria` picks some of it) and
    shows its reference: for restorations the damaged input (default) or the original, for
    stylized images the photograph they were made from.

    Raises PermissionDenied for non-curators and ValidationError for a missing title, results
    of both kinds, a reference or criterion that is unknown or not of that kind, no results,
    or an invited user who is not an expert.
    """
    _require_curator(created_by)
    title = " ".join(title.split())
    if not title:
        raise ValidationError("A campaign needs a title.", code="required")
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError(
            f"The title is too long ({len(title)} characters, at most {TITLE_MAX_LENGTH}).",
            code="too_long",
        )
    restorations = list({restoration.pk: restoration for restoration in restorations}.values())
    if not restorations:
        raise ValidationError("Choose at least one restoration to review.", code="no_items")
    kind = result_kind(restorations)
    reference = _reference(reference, kind)
    experts = _check_experts(experts)
    rubric = _rubric(criteria, kind)
    if open_now and not experts:
        raise ValidationError("Invite at least one expert to open the campaign.", code="no_experts")
    now = timezone.now()
    with transaction.atomic():
        campaign = ReviewCampaign.objects.create(
            title=title,
            instructions=instructions.strip(),
            kind=kind,
            reference=reference,
            rubric=rubric,
            created_by=created_by,
            status=ReviewCampaign.Status.OPEN if open_now else ReviewCampaign.Status.DRAFT,
            opened_at=now if open_now else None,
        )
        ReviewItem.objects.bulk_create(
            ReviewItem(campaign=campaign, restoration=restoration, token=opaque_token())
            for restoration in restorations
        )
        ReviewAssignment.objects.bulk_create(
            ReviewAssignment(campaign=campaign, expert=expert, order_seed=_order_seed())
            for expert in experts
        )
    return campaign


def campaign_open(*, campaign: ReviewCampaign, user: User) -> ReviewCampaign:
    """Open a draft (or reopen a closed) campaign for scoring. Raises ValidationError."""
    _require_curator(user)
    if not ReviewAssignment.objects.filter(campaign=campaign).exists():
        raise ValidationError("Invite at least one expert to open the campaign.", code="no_experts")
    changed = ReviewCampaign.objects.filter(
        pk=campaign.pk,
        status__in=[ReviewCampaign.Status.DRAFT, ReviewCampaign.Status.CLOSED],
    ).update(
        status=ReviewCampaign.Status.OPEN,
        opened_at=Coalesce(F("opened_at"), timezone.now()),
        closed_at=None,
    )
    if changed != 1:
        raise ValidationError("This campaign is already open.", code="already_open")
    campaign.refresh_from_db()
    return campaign


def campaign_close(*, campaign: ReviewCampaign, user: User) -> ReviewCampaign:
    """Stop scoring; the scores stay. Raises ValidationError unless the campaign is open."""
    _require_curator(user)
    changed = ReviewCampaign.objects.filter(
        pk=campaign.pk, status=ReviewCampaign.Status.OPEN
    ).update(status=ReviewCampaign.Status.CLOSED, closed_at=timezone.now())
    if changed != 1:
        raise ValidationError("Only an open campaign can be closed.", code="not_open")
    campaign.refresh_from_db()
    return campaign


def campaign_invite(*, campaign: ReviewCampaign, experts: Iterable[User], user: User) -> int:
    """Assign more experts; those already assigned are left as they are. Returns how many joined.

    Raises PermissionDenied for non-curators, ValidationError for a user who is not an expert
    or a closed campaign.
    """
    _require_curator(user)
    if campaign.status == ReviewCampaign.Status.CLOSED:
        raise ValidationError(
            "This campaign is closed: reopen it to invite experts.", code="closed"
        )
    experts = _check_experts(experts)
    assigned = set(
        ReviewAssignment.objects.filter(campaign=campaign).values_list("expert_id", flat=True)
    )
    new = [expert for expert in experts if expert.pk not in assigned]
    ReviewAssignment.objects.bulk_create(
        [ReviewAssignment(campaign=campaign, expert=e, order_seed=_order_seed()) for e in new],
        ignore_conflicts=True,
    )
    return len(new)


def _check_can_review(*, item: ReviewItem, expert: User) -> None:
    campaign = item.campaign
    if not ReviewAssignment.objects.filter(campaign=campaign, expert=expert).exists():
        raise PermissionDenied("You are not invited to this review campaign.")
    if campaign.status != ReviewCampaign.Status.OPEN:
        raise ValidationError("This campaign is not open for scoring.", code="not_open")


def _score_value(value: int | str | None) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        # ASCII digits only: "³" passes str.isdigit() but int() refuses it.
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= 5 else None


def _clean_scores(rubric: list[dict], scores: Mapping[str, int | str]) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, int] = {}
    for criterion in rubric:
        key, label = criterion["key"], criterion["label"]
        raw = scores.get(key)
        if raw is None or raw == "":
            errors[key] = [f"Give “{label}” a score from 1 to 5."]
            continue
        value = _score_value(raw)
        if value is None:
            errors[key] = [f"“{label}” takes a whole number from 1 to 5, not “{raw}”."]
        else:
            cleaned[key] = value
    unknown = sorted(set(scores) - {criterion["key"] for criterion in rubric})
    if unknown:
        errors["__all__"] = [f"This campaign does not score {', '.join(unknown)}."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def review_submit(
    *, item: ReviewItem, expert: User, scores: Mapping[str, int | str], comment: str = ""
) -> ReviewResponse:
    """Store an expert's scores of one item; submitting again while open replaces them.

    Raises PermissionDenied if the expert is not assigned, ValidationError (keyed by criterion)
    if the campaign is not open or a criterion is missing or not a whole number from 1 to 5.
    """
    _check_can_review(item=item, expert=expert)
    cleaned = _clean_scores(item.campaign.rubric, scores)
    comment = comment.strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            f"The comment is too long ({len(comment)} characters, at most {COMMENT_MAX_LENGTH}).",
            code="too_long",
        )
    with transaction.atomic():
        response, _ = ReviewResponse.objects.update_or_create(
            item=item,
            expert=expert,
            defaults={"comment": comment, "skipped": False, "submitted_at": timezone.now()},
        )
        for criterion, score in cleaned.items():
            ExpertScore.objects.update_or_create(
                item=item, expert=expert, criterion=criterion, defaults={"score": score}
            )
    return response


def review_skip(*, item: ReviewItem, expert: User) -> ReviewResponse:
    """Put an item aside for later. Raises PermissionDenied, or ValidationError if closed or
    already scored (scores stand until replaced by a new submission)."""
    _check_can_review(item=item, expert=expert)
    with transaction.atomic():
        response, created = ReviewResponse.objects.select_for_update().get_or_create(
            item=item, expert=expert, defaults={"skipped": True}
        )
        if created:
            return response
        if response.submitted_at is not None:
            raise ValidationError(
                "You have already scored this item; change the scores to revise them.",
                code="already_scored",
            )
        if not response.skipped:
            response.skipped = True
            response.save(update_fields=["skipped", "updated_at"])
    return response
