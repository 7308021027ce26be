"""Writes of public user studies: set-up, opening and closing, participants and their votes."""

import uuid
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from gallery.cache import public_changed
from gallery.models import (
    Participant,
    ResultKind,
    ServedTrial,
    StudyCandidate,
    StudyTrial,
    StudyVote,
    UserStudy,
    opaque_token,
)
from gallery.results import kind_of, result_of
from gallery.selectors import studies as selectors
from heritage.models import Motif, User
from restoration.models import Restoration

ALREADY_VOTED = "You have already voted on this image set."
RETIRED = "This image set has collected enough votes; here is another."
NOT_SERVED = "This image set was not shown to you; please vote on the one on your screen."
REPEAT_NOT_SERVED = (
    "This image set was not chosen to be shown to you again; please vote on the one on your screen."
)
SHOWN_DIFFERS = "The images shown do not match this image set; please vote again."
SLUG_LENGTH = 100
# A trial's candidates are labelled A, B, ... on the page and in the API.
MAX_CANDIDATES = 26


def _require_curator(user: User | None) -> None:
    if user is None or not user.is_curator:
        raise PermissionDenied("Only curators can set up and run studies.")


def _unique_slug(text: str) -> str:
    base = slugify(text)[:SLUG_LENGTH].strip("-") or "study"
    slug, suffix = base, 2
    while UserStudy.objects.filter(slug=slug).exists():
        slug = f"{base[: SLUG_LENGTH - 6]}-{suffix}"
        suffix += 1
    return slug


def _group_by_input(restorations: Iterable[Restoration]) -> list[list[StudyCandidate]]:
    """Unsaved candidates grouped by the input they were made from: the damaged input of a
    restoration, the photograph of a stylized image (which has no annotation)."""
    groups: dict[tuple[int, int | None], list[StudyCandidate]] = {}
    for restoration in restorations:
        candidate = StudyCandidate(restoration=restoration, token=opaque_token())
        key = (result_of(candidate).motif.pk, restoration.job.annotation_id)
        groups.setdefault(key, []).append(candidate)
    return list(groups.values())


def _one_kind(restorations: list[Restoration]) -> str:
    """The kind of result all of them are; ValidationError if they mix kinds."""
    kinds = {kind_of(restoration) for restoration in restorations}
    if len(kinds) > 1:
        stylized = sum(1 for r in restorations if kind_of(r) == ResultKind.STYLIZED)
        raise ValidationError(
            "A study compares one kind of result: you chose "
            f"{len(restorations) - stylized} restoration(s) and {stylized} stylized image(s). "
            "Make one study for each.",
            code="mixed_kinds",
        )
    return kinds.pop() if kinds else ResultKind.RESTORATION


def _paintings(artworks: Iterable[Motif], kind: str) -> list[Motif]:
    """Real paintings to add to every trial; only style studies take them."""
    paintings = list({motif.pk: motif for motif in artworks}.values())
    if not paintings:
        return []
    if kind != ResultKind.STYLIZED:
        raise ValidationError(
            "Real paintings can only be candidates beside stylized images, not restorations.",
            code="artwork_with_restorations",
        )
    for motif in paintings:
        if motif.kind != Motif.Kind.ARTWORK:
            raise ValidationError(
                f'"{motif.title}" is a photograph, not a painting: only artworks can stand as '
                "real paintings.",
                code="not_artwork",
            )
    return paintings


def study_create(
    *,
    created_by: User,
    title: str,
    question: str,
    restorations: Iterable[Restoration],
    artworks: Iterable[Motif] = (),
    description: str = "",
    slug: str | None = None,
    show_input: bool = True,
    allow_not_sure: bool = True,
    retire_after: int | None = None,
    attention_check: bool = False,
    open_now: bool = False,
) -> UserStudy:
    """A study with one trial per input, its results as the candidates.

    The results are restorations (one trial per damaged input) or stylized images (one trial
    per photograph), never both. A style study may add real paintings (`artworks`, motifs of
    kind artwork) as candidates to every trial; participants are not told which they are.

    Raises PermissionDenied for non-curators; ValidationError for a missing title or question,
    no results, results of both kinds, paintings in a restoration study or a photograph given
    as a painting, a trial with fewer than two candidates or more than MAX_CANDIDATES, or
    retire_after below 1.
    """
    _require_curator(created_by)
    title, question = " ".join(title.split()), " ".join(question.split())
    if not title:
        raise ValidationError("A study needs a title.", code="required")
    if not question:
        raise ValidationError("A study needs a question to ask.", code="required")
    if retire_after is not None and retire_after < 1:
        raise ValidationError("Retire after must be at least 1 vote.", code="retire_after")
    chosen = list(
        Restoration.objects.select_related("job__motif")
        .filter(pk__in=[restoration.pk for restoration in restorations])
        .order_by("job__motif_id", "job__annotation_id", "pk")
    )
    if not chosen:
        raise ValidationError("Choose the restorations to compare.", code="required")
    kind = _one_kind(chosen)
    paintings = _paintings(artworks, kind)
    groups = _group_by_input(chosen)
    for group in groups:
        motif = result_of(group[0]).motif
        count = len(group) + len(paintings)
        if count < 2:
            extra = " or a real painting" if kind == ResultKind.STYLIZED else ""
            raise ValidationError(
                f'"{motif.title}" needs at least two candidates for the same input: add another '
                f"result{extra}.",
                code="too_few_candidates",
            )
        if count > MAX_CANDIDATES:
            raise ValidationError(
                f'"{motif.title}" would show {count} candidates; at most {MAX_CANDIDATES} fit '
                "in one image set.",
                code="too_many_candidates",
            )
    now = timezone.now()
    with transaction.atomic():
        study = UserStudy.objects.create(
            title=title,
            slug=_unique_slug(slug or title),
            question=question,
            description=description.strip(),
            show_input=show_input,
            allow_not_sure=allow_not_sure,
            retire_after=retire_after,
            attention_check=attention_check,
            kind=kind,
            status=UserStudy.Status.OPEN if open_now else UserStudy.Status.DRAFT,
            opened_at=now if open_now else None,
            created_by=created_by,
        )
        for position, group in enumerate(groups, start=1):
            trial = StudyTrial.objects.create(
                study=study, position=position, motif=result_of(group[0]).motif
            )
            group = group + [
                StudyCandidate(artwork=painting, token=opaque_token()) for painting in paintings
            ]
            for candidate in group:
                candidate.trial = trial
            StudyCandidate.objects.bulk_create(group)
    if open_now:
        transaction.on_commit(public_changed)
    return study


def study_open(*, study: UserStudy, user: User) -> UserStudy:
    """Open a draft or closed study to votes. Raises PermissionDenied, ValidationError."""
    _require_curator(user)
    # Conditional update: two curators pressing "open" at once change the row once.
    opened = UserStudy.objects.filter(
        pk=study.pk, status__in=[UserStudy.Status.DRAFT, UserStudy.Status.CLOSED]
    ).update(
        status=UserStudy.Status.OPEN,
        opened_at=Coalesce("opened_at", Value(timezone.now())),
        closed_at=None,
    )
    study.refresh_from_db()
    if not opened:
        raise ValidationError("This study is already open.", code="already_open")
    # The home page invites visitors to the open studies.
    transaction.on_commit(public_changed)
    return study


def study_close(*, study: UserStudy, user: User) -> UserStudy:
    """Stop taking votes. Raises PermissionDenied, ValidationError if the study is not open."""
    _require_curator(user)
    closed = UserStudy.objects.filter(pk=study.pk, status=UserStudy.Status.OPEN).update(
        status=UserStudy.Status.CLOSED, closed_at=timezone.now()
    )
    study.refresh_from_db()
    if not closed:
        raise ValidationError("Only an open study can be closed.", code="not_open")
    transaction.on_commit(public_changed)
    return study


def participant_create(*, ip_hash: str, participant_id: uuid.UUID | None = None) -> Participant:
    """The anonymous participant with the id their signed cookie holds (a new id if None).

    The id is handed out before the first vote, so that a visitor meets the trials in their
    own order from the start; the row only appears with that first vote.
    """
    if participant_id is None:
        return Participant.objects.create(ip_hash=ip_hash[:64])
    participant, _ = Participant.objects.get_or_create(
        pk=participant_id, defaults={"ip_hash": ip_hash[:64]}
    )
    return participant


def trial_serve(
    *, study: UserStudy, participant: Participant, position: int | None = None
) -> ServedTrial | None:
    """Hand the participant a trial and store how: which one, whether it is the attention
    check, and the candidates' order. The trial at `position`, or their next one; None when
    there is none (no such trial, a retired one they never answered, or the study is done).

    The store is what votes are checked against (see vote_cast), so only the server decides
    which trial repeats and in which order candidates appear. Serving the same trial again
    (a reload, the back button) gives the stored order. `participant` may be unsaved: the
    visitor's id is known from the cookie before their first vote.
    """
    if position is None:
        chosen = selectors.study_next(study=study, participant=participant)
    else:
        chosen = selectors.study_trial_for(study=study, participant=participant, position=position)
    if chosen is None:
        return None
    trial, repeat = chosen
    candidates: list = []

    def shown() -> list[str]:
        # Only when the row is created: served before, the stored order stands.
        candidates[:] = selectors.trial_candidates(
            trial=trial, participant_key=str(participant.pk), repeat=repeat
        )
        return [candidate.token for candidate in candidates]

    # Two requests of one visitor at once store one row; both show what it holds.
    served, created = ServedTrial.objects.get_or_create(
        trial=trial, participant_key=participant.pk, repeat=repeat, defaults={"shown": shown}
    )
    served.trial = trial  # with its motif, as the selectors fetched it
    if created:
        # What was just stored, so that selectors.served_candidates need not fetch it again.
        served.shown_candidates = list(candidates)
    return served


def vote_cast(
    *,
    trial: StudyTrial,
    participant: Participant,
    choice: str | None,
    shown: list[str],
    repeat: bool = False,
    ip_hash: str = "",
) -> StudyVote:
    """Record the participant's answer on a trial: a candidate token, or None for "not sure".

    The vote must agree with what trial_serve stored for this participant: the trial was
    served to them (else NOT_SERVED, code "not_served"), as the attention check if `repeat`
    (REPEAT_NOT_SERVED, code "repeat"), with the candidates in exactly the order `shown`
    (SHOWN_DIFFERS, code "shown").

    Raises ValidationError for those, and if the study is not open, the choice is not one of
    the candidates shown, "not sure" is not offered, the participant already voted
    (ALREADY_VOTED), the trial is retired (RETIRED), or a repeat comes without a first vote.
    Nothing is written then.
    """
    with transaction.atomic():
        # The lock serialises votes on one trial, so retirement can never be overshot.
        trial = StudyTrial.objects.select_for_update().select_related("study").get(pk=trial.pk)
        study = trial.study
        if not study.is_open:
            raise ValidationError("This study is not taking votes.", code="not_open")
        served = ServedTrial.objects.filter(
            trial=trial, participant_key=participant.pk, repeat=repeat
        ).first()
        if served is None and repeat:
            raise ValidationError(REPEAT_NOT_SERVED, code="repeat")
        if served is None:
            raise ValidationError(NOT_SERVED, code="not_served")
        tokens = dict(trial.candidates.values_list("token", "pk"))
        if choice is not None and choice not in served.shown:
            raise ValidationError("That choice is not part of this image set.", code="choice")
        if list(shown) != served.shown:
            raise ValidationError(SHOWN_DIFFERS, code="shown")
        if choice is None and not study.allow_not_sure:
            raise ValidationError("Please choose one of the images.", code="not_sure")
        votes = StudyVote.objects.filter(trial=trial, participant=participant)
        if votes.filter(repeat=repeat).exists():
            raise ValidationError(ALREADY_VOTED, code="already_voted")
        if repeat and not votes.filter(repeat=False).exists():
            raise ValidationError(
                "Only an image set you have already voted on can be shown again.", code="repeat"
            )
        if not repeat and trial.retired_at is not None:
            raise ValidationError(RETIRED, code="retired")
        try:
            with transaction.atomic():
                vote = StudyVote.objects.create(
                    trial=trial,
                    participant=participant,
                    candidate_id=None if choice is None else tokens[choice],
                    repeat=repeat,
                    shown=list(shown),
                    ip_hash=ip_hash[:64],
                )
        except IntegrityError:
            # A simultaneous request of the same participant won the race.
            raise ValidationError(ALREADY_VOTED, code="already_voted") from None
        if (
            not repeat
            and study.retire_after
            and StudyVote.objects.filter(trial=trial, repeat=False).count() >= study.retire_after
        ):
            trial.retired_at = timezone.now()
            trial.save(update_fields=["retired_at"])
    return vote
