"""Reads of user studies: what a participant sees next, in which order, and what the votes say."""

import hashlib
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncHour

from gallery import stats
from gallery.models import (
    Participant,
    ServedTrial,
    StudyCandidate,
    StudyTrial,
    StudyVote,
    UserStudy,
)
from gallery.results import ARTWORK, CANDIDATE_RELATED, REAL_PAINTING, RESULT_RELATED, result_of
from heritage.models import Motif, User
from restoration.models import Restoration, RestorationJob, Task

NOT_SURE_LABEL = "not sure"
VOTE_COLUMNS = (
    "vote_id",
    "study",
    "trial_position",
    "motif",
    "participant",
    "choice_token",
    "choice_engine",
    "repeat",
    "shown_engines",
    "created_at",
    "choice_kind",
)


@dataclass(frozen=True)
class _Standing:
    """Where a participant is in a study: the trials still to come and the attention check."""

    remaining: list[int]  # trial ids in the participant's order, neither voted on nor retired
    primary: list[int]  # trial ids voted on, oldest vote first
    repeat_trial: int | None  # the trial to show again now, if the attention check is due
    repeat_done: bool
    # Trial ids the participant is through with, in the order they met them: those voted on and
    # those shown to them that retired before their vote. A trial's place is its page's number.
    done: list[int]
    skipped: int  # how many of `done` retired before the participant's vote


@dataclass(frozen=True)
class Tally:
    """What a participant has done in a study, counted as the voting pages count it."""

    answered: int  # image sets voted on (the attention check's second answer not counted)
    skipped: int  # image sets shown, then retired before the participant's vote
    remaining: int  # image sets still to come
    checked: bool  # the attention check (an earlier set shown again) was answered

    @property
    def total(self) -> int:
        """The "M" of "Image set N of M": every image set this participant meets."""
        return self.answered + self.skipped + self.remaining


def studies_open() -> list[UserStudy]:
    """Studies taking votes now, newest first: what the home page invites visitors to."""
    return list(UserStudy.objects.filter(status=UserStudy.Status.OPEN).order_by("-opened_at"))


def study_list() -> list[UserStudy]:
    """Every study with its trial and primary vote counts, newest first."""
    return list(
        UserStudy.objects.annotate(
            trial_count=Count("trials", distinct=True),
            vote_count=Count("trials__votes", filter=Q(trials__votes__repeat=False), distinct=True),
        )
    )


def study_for_user(*, user: User, slug: str) -> UserStudy | None:
    """The study a visitor may see: open or closed ones; drafts only for curators to preview."""
    study = UserStudy.objects.filter(slug=slug).first()
    if study is None:
        return None
    if study.status == UserStudy.Status.DRAFT and not (user.is_authenticated and user.is_curator):
        return None
    return study


def participant_get(*, participant_id: str | None) -> Participant | None:
    """The participant a (verified) cookie names; None for a missing or unknown id."""
    key = participant_uuid(value=participant_id)
    return None if key is None else Participant.objects.filter(pk=key).first()


def participant_uuid(*, value: str | None) -> uuid.UUID | None:
    """The id a cookie value holds, or None if it is no id at all."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _standing(*, study: UserStudy, participant: Participant | None) -> _Standing:
    # `participant` may be unsaved: a visitor whose id is known from the cookie but who has
    # not voted yet, hence the filters by id.
    trials = list(study.trials.order_by("position").values_list("id", "retired_at"))
    order = [trial_id for trial_id, _ in trials]
    random.Random(f"{participant.pk if participant else 'new'}:{study.pk}").shuffle(order)
    primary: list[int] = []
    met: list[tuple] = []  # (when, trial id): votes and skipped image sets, to number them
    repeat_done = False
    if participant is not None:
        for trial_id, repeat, created_at in (
            StudyVote.objects.filter(trial__study=study, participant_id=participant.pk)
            .order_by("created_at", "id")
            .values_list("trial_id", "repeat", "created_at")
        ):
            if repeat:
                repeat_done = True
            else:
                primary.append(trial_id)
                met.append((created_at, trial_id))
    retired = {trial_id for trial_id, retired_at in trials if retired_at is not None}
    voted = set(primary)
    # Shown, then retired by other visitors' votes before this one's: the page said "Image
    # set N of M" for it, so it keeps its place in the count rather than vanishing from it.
    if participant is not None and retired - voted:
        met.extend(
            ServedTrial.objects.filter(
                trial_id__in=retired - voted, participant_key=participant.pk, repeat=False
            ).values_list("served_at", "trial_id")
        )
    met.sort()
    done = [trial_id for _, trial_id in met]
    remaining = [trial_id for trial_id in order if trial_id not in voted | retired]
    repeat_trial = None
    # Shown as soon as two answers exist: an earlier trial, never the one just answered, so the
    # participant cannot simply repeat the click they made a moment ago. Once served, the
    # choice is the stored one: answers given meanwhile on other trials do not move it.
    if study.attention_check and len(trials) >= 2 and not repeat_done and len(primary) >= 2:
        repeat_trial = (
            ServedTrial.objects.filter(
                trial__study=study, participant_key=participant.pk, repeat=True
            )
            .values_list("trial_id", flat=True)
            .first()
        )
        if repeat_trial is None:
            chooser = random.Random(f"{participant.pk}:{study.pk}:repeat")
            repeat_trial = chooser.choice(primary[:-1])
    return _Standing(remaining, primary, repeat_trial, repeat_done, done, len(done) - len(primary))


def study_next(
    *, study: UserStudy, participant: Participant | None
) -> tuple[StudyTrial, bool] | None:
    """The trial to show next and whether it is the attention-check repeat; None when done.

    Each participant meets the trials in their own random order; None as participant (a
    visitor without a cookie) gets one shared order.
    """
    standing = _standing(study=study, participant=participant)
    if standing.repeat_trial is not None:
        trial_id, repeat = standing.repeat_trial, True
    elif standing.remaining:
        trial_id, repeat = standing.remaining[0], False
    else:
        return None
    return StudyTrial.objects.select_related("motif").get(pk=trial_id), repeat


def study_trial_for(
    *, study: UserStudy, participant: Participant, position: int
) -> tuple[StudyTrial, bool] | None:
    """The trial at `position` as this participant should see it: (trial, is the repeat).

    None for no such trial, or a retired one the participant has not answered: they go on to
    another. A trial they answered stays viewable (the back button), votes are refused then.
    """
    trial = study_trial(study=study, position=position)
    if trial is None:
        return None
    following = study_next(study=study, participant=participant)
    repeat = following is not None and following[1] and following[0].pk == trial.pk
    if trial.retired_at and not repeat and not study_has_vote(trial=trial, participant=participant):
        return None
    return trial, repeat


def study_progress(
    *, study: UserStudy, participant: Participant | None, trial: StudyTrial | None = None
) -> tuple[int, int]:
    """(number of the image set shown, how many different image sets the participant will see).

    The attention check shows an earlier set again, so it is not counted as a set of its own.
    A set shown and then retired before the participant voted stays counted (see study_tally).
    With `trial`, an image set the participant already answered keeps the number it had (a page
    reached with the back button, or the repeat); otherwise the number is that of the next
    answer.
    """
    standing = _standing(study=study, participant=participant)
    total = len(standing.done) + len(standing.remaining)
    if trial is not None and trial.pk in standing.done:
        return standing.done.index(trial.pk) + 1, total
    return min(len(standing.done) + 1, total), total


def study_tally(*, study: UserStudy, participant: Participant | None) -> Tally:
    """How many image sets the participant answered, saw retire, and has still to come: the
    thanks page's exact account of the "Image set N of M" the voting pages showed."""
    standing = _standing(study=study, participant=participant)
    return Tally(
        answered=len(standing.primary),
        skipped=standing.skipped,
        remaining=len(standing.remaining),
        checked=standing.repeat_done,
    )


def trial_candidates(
    *, trial: StudyTrial, participant_key: str, repeat: bool
) -> list[StudyCandidate]:
    """The trial's candidates in the order this participant sees them, left to right."""
    candidates = list(trial.candidates.select_related(*CANDIDATE_RELATED).order_by("id"))
    # Each participant gets their own positions; the repeat is reshuffled so that a consistent
    # answer means the same image, not the same place on the screen.
    seed = f"{participant_key}:{trial.pk}:{'repeat' if repeat else 'first'}"
    random.Random(seed).shuffle(candidates)
    return candidates


def served_candidates(*, served: ServedTrial) -> list[StudyCandidate]:
    """The candidates of a served trial in the order stored when it was served, left to right."""
    fetched = getattr(served, "shown_candidates", None)  # set by trial_serve when it stored them
    if fetched is not None and [candidate.token for candidate in fetched] == served.shown:
        return fetched
    by_token = {
        candidate.token: candidate
        for candidate in served.trial.candidates.select_related(*CANDIDATE_RELATED)
    }
    return [by_token[token] for token in served.shown]


def study_trial_input(*, trial: StudyTrial) -> StudyCandidate | None:
    """A candidate whose input preview shows what the trial's results were made from (the
    damaged input, or the photograph that was stylized): never a real painting's, which is a
    candidate itself and made from nothing."""
    return (
        trial.candidates.filter(restoration__isnull=False)
        .select_related(*RESULT_RELATED)
        .order_by("id")
        .first()
    )


def study_candidate_for_image(*, token: str, user: User) -> StudyCandidate | None:
    """The candidate behind an opaque image URL, while its study is open (always for curators)."""
    candidate = (
        StudyCandidate.objects.select_related("trial__study", *CANDIDATE_RELATED)
        .filter(token=token)
        .first()
    )
    if candidate is None:
        return None
    if candidate.trial.study.is_open or (user.is_authenticated and user.is_curator):
        return candidate
    return None


def study_participant_votes(*, study: UserStudy, participant: Participant | None) -> int:
    """How many image sets this participant has answered in the study (repeats not counted)."""
    if participant is None:
        return 0
    return StudyVote.objects.filter(
        trial__study=study, participant_id=participant.pk, repeat=False
    ).count()


def study_restoration_groups() -> list[dict]:
    """Finished restorations grouped by the damaged input they share, for building a study.

    Only inputs restored at least twice are listed: a trial needs two candidates.
    """
    restorations = (
        Restoration.objects.filter(job__status=RestorationJob.Status.SUCCEEDED, task=Task.RESTORE)
        .select_related("job__motif", "job__annotation")
        .order_by("job__motif__title", "job__motif_id", "job__annotation_id", "engine", "pk")
    )
    groups: dict[int, dict] = {}
    for restoration in restorations:
        group = groups.setdefault(
            restoration.job.annotation_id,
            {
                "motif": restoration.job.motif,
                "annotation": restoration.job.annotation,
                "restorations": [],
            },
        )
        group["restorations"].append(restoration)
    return [group for group in groups.values() if len(group["restorations"]) >= 2]


def study_stylized_groups() -> list[dict]:
    """Photographs with their finished stylized images, for building a style study.

    Every photograph stylized at least once is listed: real paintings may be its other
    candidates.
    """
    restorations = (
        Restoration.objects.filter(job__status=RestorationJob.Status.SUCCEEDED, task=Task.STYLIZE)
        .select_related("job__motif")
        .order_by("job__motif__title", "job__motif_id", "engine", "pk")
    )
    groups: dict[int, dict] = {}
    for restoration in restorations:
        group = groups.setdefault(
            restoration.job.motif_id, {"motif": restoration.job.motif, "restorations": []}
        )
        group["restorations"].append(restoration)
    return list(groups.values())


def study_artwork_choices() -> QuerySet[Motif]:
    """Real paintings (motifs of kind artwork) a style study may show among its candidates."""
    return (
        Motif.objects.filter(kind=Motif.Kind.ARTWORK).select_related("site").order_by("title", "pk")
    )


@dataclass(frozen=True)
class _Compared:
    """What the study's results group each candidate under: its engine, or "real painting"."""

    by_candidate: dict[int, str]
    by_trial: dict[int, list[str]]
    by_token: dict[str, str]
    kind_of: dict[str, str]  # kind of what each name stands for: restoration, stylized, artwork


def _engines(study: UserStudy) -> _Compared:
    by_candidate, by_trial, by_token, kinds = {}, defaultdict(list), {}, {}
    for candidate in StudyCandidate.objects.filter(trial__study=study).select_related(
        *CANDIDATE_RELATED
    ):
        result = result_of(candidate)
        name = result.compared_as
        by_candidate[candidate.pk] = name
        by_trial[candidate.trial_id].append(name)
        by_token[candidate.token] = name
        kinds[name] = result.kind
    return _Compared(by_candidate, by_trial, by_token, kinds)


def _bradley_terry(
    study: UserStudy, choices: list[stats.Choice], engines: list[str], resamples: int
) -> dict[str, stats.Estimate]:
    # The bootstrap takes about a second per thousand votes; the same votes give the same
    # answer (fixed seed), so a curator reloading the results page does not wait again.
    digest = hashlib.sha256(repr((choices, engines, resamples)).encode()).hexdigest()
    # v2: estimates carry a note on why an interval is withheld; older entries lack it.
    key = f"gallery:study-bt-v2:{study.pk}:{digest}"
    scale = cache.get(key)
    if scale is None:
        scale = stats.bradley_terry(choices, items=engines, resamples=resamples)
        cache.set(key, scale, 24 * 3600)
    return scale


def study_results(*, study: UserStudy, resamples: int = 200) -> dict:
    """Vote shares with Wilson intervals, a Bradley-Terry scale, the attention check and timeline.

    Only first (non-repeat) votes count. Participants whose repeat answer differs from their
    first answer on that trial are excluded from shares and scale; "not sure" counts as an
    answer for that comparison but is left out of the share denominators.
    """
    compared = _engines(study)
    engine_of, trial_engines = compared.by_candidate, compared.by_trial
    engines = sorted(set(engine_of.values()))
    votes = list(
        StudyVote.objects.filter(trial__study=study).values(
            "trial_id", "participant_id", "candidate_id", "repeat", "created_at"
        )
    )
    first = {
        (v["trial_id"], v["participant_id"]): v["candidate_id"] for v in votes if not v["repeat"]
    }
    checked, failed = set(), set()
    for vote in votes:
        key = (vote["trial_id"], vote["participant_id"])
        if vote["repeat"] and key in first:
            checked.add(vote["participant_id"])
            if first[key] != vote["candidate_id"]:
                failed.add(vote["participant_id"])
    counted = [v for v in votes if not v["repeat"] and v["participant_id"] not in failed]
    decisive = [v for v in counted if v["candidate_id"] is not None]
    wins = Counter(engine_of[v["candidate_id"]] for v in decisive)
    appearances = Counter(engine for v in decisive for engine in set(trial_engines[v["trial_id"]]))
    choices = [
        stats.Choice(
            group=str(v["participant_id"]),
            winner=engine_of[v["candidate_id"]],
            losers=tuple(
                engine
                for engine in trial_engines[v["trial_id"]]
                if engine != engine_of[v["candidate_id"]]
            ),
        )
        for v in decisive
    ]
    scale = _bradley_terry(study, choices, engines, resamples) if engines else {}
    not_sure = len(counted) - len(decisive)
    return {
        "engines": [
            {
                "engine": engine,
                "kind": compared.kind_of[engine],
                "votes": wins[engine],
                "appearances": appearances[engine],
                "share": stats.wilson_interval(wins[engine], len(decisive)),
                "scale": scale[engine],
            }
            for engine in engines
        ],
        "counted": len(counted),
        # Every first answer, as the timeline and the image-set table count them: the counted
        # ones plus attention["excluded_votes"] (participants who failed the attention check).
        "first_votes": sum(1 for v in votes if not v["repeat"]),
        "decisive": len(decisive),
        "not_sure": {"votes": not_sure, "share": stats.wilson_interval(not_sure, len(counted))},
        "participants": len({v["participant_id"] for v in counted}),
        "attention": {
            "enabled": study.attention_check,
            "checked": len(checked),
            "passed": len(checked - failed),
            "failed": len(failed),
            "excluded_votes": sum(
                1 for v in votes if not v["repeat"] and v["participant_id"] in failed
            ),
        },
        "timeline": study_vote_timeline(study=study),
        "trials": study_trial_table(study=study),
    }


def study_vote_timeline(*, study: UserStudy, hourly: bool = False) -> list[tuple]:
    """(day, first votes cast that day), oldest first; every participant included.

    With hourly=True the buckets are hours (datetimes), for a study that ran within a day.
    """
    bucket = TruncHour("created_at") if hourly else TruncDate("created_at")
    return [
        (row["bucket"], row["votes"])
        for row in StudyVote.objects.filter(trial__study=study, repeat=False)
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(votes=Count("id"))
        .order_by("bucket")
    ]


def study_trial_table(*, study: UserStudy) -> list[dict]:
    """Per trial: position, motif title, what its candidates are (engines, and real paintings
    by title, sorted), first votes and whether it has retired. For curators only."""
    shown: dict[int, list[str]] = defaultdict(list)
    for candidate in StudyCandidate.objects.filter(trial__study=study).select_related(
        *CANDIDATE_RELATED
    ):
        result = result_of(candidate)
        label = result.engine if result.kind != ARTWORK else f"{REAL_PAINTING}: {result.motif}"
        shown[candidate.trial_id].append(label)
    return [
        {
            "position": trial.position,
            "motif": trial.motif.title,
            "candidates": sorted(shown[trial.pk]),
            "votes": trial.vote_count,
            "retired": trial.retired_at is not None,
            "retired_at": trial.retired_at,
        }
        for trial in study.trials.select_related("motif")
        .annotate(vote_count=Count("votes", filter=Q(votes__repeat=False)))
        .order_by("position")
    ]


def study_vote_rows(*, study: UserStudy) -> Iterator[tuple]:
    """One row per vote (repeats included, flagged) in VOTE_COLUMNS order, oldest first."""
    compared = _engines(study)
    engine_of, engine_by_token = compared.by_candidate, compared.by_token
    votes = (
        StudyVote.objects.filter(trial__study=study)
        .select_related("trial__motif", "candidate")
        .order_by("created_at", "id")
    )
    for vote in votes.iterator():
        yield (
            vote.pk,
            study.slug,
            vote.trial.position,
            vote.trial.motif.title,
            str(vote.participant_id),
            vote.candidate.token if vote.candidate else "",
            engine_of[vote.candidate_id] if vote.candidate else NOT_SURE_LABEL,
            vote.repeat,
            ";".join(engine_by_token.get(token, "?") for token in vote.shown),
            vote.created_at.isoformat(),
            compared.kind_of[engine_of[vote.candidate_id]] if vote.candidate else "",
        )


def study_trial(
    *, study: UserStudy, trial_id: int | None = None, position: int | None = None
) -> StudyTrial | None:
    """The study's trial with that id or position; None for a trial of another study."""
    trials = StudyTrial.objects.select_related("motif").filter(study=study)
    if trial_id is not None:
        trials = trials.filter(pk=trial_id)
    if position is not None:
        trials = trials.filter(position=position)
    return trials.first()


def study_has_vote(*, trial: StudyTrial, participant: Participant | None) -> bool:
    """Whether the participant answered the trial (first answer, not the repeat)."""
    if participant is None:
        return False
    return StudyVote.objects.filter(
        trial=trial, participant_id=participant.pk, repeat=False
    ).exists()


def study_trial_for_image(*, trial_id: int, user: User) -> StudyTrial | None:
    """The trial behind an input image URL, while its study is open (always for curators)."""
    trial = StudyTrial.objects.select_related("study").filter(pk=trial_id).first()
    if trial is None:
        return None
    if trial.study.is_open or (user.is_authenticated and user.is_curator):
        return trial
    return None
