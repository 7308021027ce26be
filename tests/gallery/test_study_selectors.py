"""gallery.selectors.studies: per-participant orders, the attention check, results and export."""

import datetime
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from gallery.models import Participant, StudyCandidate, StudyTrial, StudyVote, UserStudy
from gallery.selectors import studies as selectors
from gallery.services import studies as services

pytestmark = pytest.mark.django_db


def make_study(curator, restorations, **options) -> UserStudy:
    options.setdefault("open_now", True)
    return services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        restorations=restorations,
        **options,
    )


def many_trials(study: UserStudy, restorations, count: int) -> list[StudyTrial]:
    """Extra trials pairing the same restorations again: enough positions to shuffle."""
    start = study.trials.count()
    trials = []
    for offset in range(count):
        trial = StudyTrial.objects.create(
            study=study, position=start + offset + 1, motif=restorations[0].job.motif
        )
        for index, restoration in enumerate(restorations[:2]):
            StudyCandidate.objects.create(
                trial=trial, restoration=restoration, token=f"t{trial.pk}-{index}"
            )
        trials.append(trial)
    return trials


def participant(number: int) -> Participant:
    return Participant.objects.create(id=uuid.UUID(int=number + 1))


def tokens(trial: StudyTrial) -> list[str]:
    return list(trial.candidates.order_by("id").values_list("token", flat=True))


def engine_token(trial: StudyTrial, engine: str) -> str:
    return trial.candidates.get(restoration__engine=engine).token


def vote(trial, who, choice: str | None, *, repeat: bool = False) -> StudyVote:
    """Serve the trial as its page does, then vote on it as shown."""
    served = services.trial_serve(study=trial.study, participant=who, position=trial.position)
    assert served is not None and served.trial == trial and served.repeat is repeat
    return services.vote_cast(
        trial=trial, participant=who, choice=choice, shown=served.shown, repeat=repeat
    )


def walk(study: UserStudy, who: Participant) -> list[tuple[int, bool]]:
    """Vote through the whole study as the participant, first candidate each time."""
    seen = []
    while (following := selectors.study_next(study=study, participant=who)) is not None:
        trial, repeat = following
        seen.append((trial.position, repeat))
        vote(trial, who, tokens(trial)[0], repeat=repeat)
        assert len(seen) < 50
    return seen


def test_study_next_orders_differ_between_participants_and_stay_put_for_one(curator, restorations):
    study = make_study(curator, restorations)
    many_trials(study, restorations, 6)

    orders = {number: walk(study, participant(number)) for number in range(6)}

    assert len({tuple(order) for order in orders.values()}) > 1
    for order in orders.values():
        assert sorted(position for position, _ in order) == list(range(1, 9))
    # Asking again, before voting, gives the same trial: a reload does not reshuffle.
    fresh = participant(99)
    first = selectors.study_next(study=study, participant=fresh)
    assert selectors.study_next(study=study, participant=fresh) == first


def test_study_next_skips_retired_trials_and_ends_when_none_remain(curator, restorations):
    study = make_study(curator, restorations, retire_after=1)
    early = participant(1)
    first_trial, _ = selectors.study_next(study=study, participant=early)
    vote(first_trial, early, tokens(first_trial)[0])

    late = participant(2)
    seen = walk(study, late)

    assert [position for position, _ in seen] == [3 - first_trial.position]
    assert selectors.study_next(study=study, participant=participant(3)) is None


def test_study_next_repeats_an_earlier_trial_once_after_two_votes(curator, restorations):
    study = make_study(curator, restorations, attention_check=True)
    many_trials(study, restorations, 2)
    who = participant(7)

    seen = walk(study, who)

    assert [repeat for _, repeat in seen] == [False, False, True, False, False]
    repeated = seen[2][0]
    assert repeated == seen[0][0], "the repeat is an earlier trial, not the one just answered"
    assert StudyVote.objects.filter(participant=who, repeat=True).count() == 1


def test_study_next_shows_no_repeat_without_the_attention_check(curator, restorations):
    study = make_study(curator, restorations)
    many_trials(study, restorations, 2)

    seen = walk(study, participant(7))

    assert len(seen) == 4 and not any(repeat for _, repeat in seen)


def test_study_progress_counts_image_sets_and_the_repeat_keeps_its_number(curator, restorations):
    study = make_study(curator, restorations, attention_check=True)
    many_trials(study, restorations, 1)
    who = participant(3)

    assert selectors.study_progress(study=study, participant=None) == (1, 3)
    steps, answered = [], []
    while (following := selectors.study_next(study=study, participant=who)) is not None:
        trial, repeat = following
        steps.append((selectors.study_progress(study=study, participant=who, trial=trial), repeat))
        vote(trial, who, tokens(trial)[0], repeat=repeat)
        if not repeat:
            answered.append(trial)

    # Three image sets, the attention check shown again between them under its own number:
    # the visitor is never told of a fourth set.
    assert steps == [((1, 3), False), ((2, 3), False), ((1, 3), True), ((3, 3), False)]
    assert StudyVote.objects.get(participant=who, repeat=True).trial == answered[0]


def test_trial_candidates_order_is_per_participant_and_reshuffled_for_the_repeat(
    curator, restorations
):
    study = make_study(curator, restorations)
    trial = StudyTrial.objects.create(study=study, position=9, motif=restorations[0].job.motif)
    for index, restoration in enumerate(restorations[:4]):
        StudyCandidate.objects.create(trial=trial, restoration=restoration, token=f"c{index}")

    def order(key: str, repeat: bool = False) -> list[str]:
        return [
            c.token
            for c in selectors.trial_candidates(trial=trial, participant_key=key, repeat=repeat)
        ]

    keys = [f"participant-{n}" for n in range(12)]
    assert len({tuple(order(key)) for key in keys}) > 1
    assert all(order(key) == order(key) for key in keys)
    assert any(order(key) != order(key, repeat=True) for key in keys)
    assert all(sorted(order(key)) == ["c0", "c1", "c2", "c3"] for key in keys)


def test_study_results_shares_and_intervals_match_hand_computed_values(curator, restorations):
    study = make_study(curator, restorations)
    trial = study.trials.get(position=1)
    telea, navier = engine_token(trial, "telea"), engine_token(trial, "navier_stokes")
    for number in range(10):
        vote(trial, participant(number), telea if number < 7 else navier)
    for number in (10, 11):
        vote(trial, participant(number), None)

    results = selectors.study_results(study=study)

    rows = {row["engine"]: row for row in results["engines"]}
    assert results["decisive"] == 10 and results["counted"] == 12
    assert rows["telea"]["votes"] == 7 and rows["navier_stokes"]["votes"] == 3
    share = rows["telea"]["share"]
    assert share.value == pytest.approx(0.7)
    assert (share.low, share.high) == pytest.approx((0.3968, 0.8922), abs=5e-5)
    assert rows["navier_stokes"]["share"].value == pytest.approx(0.3)
    # "Not sure" is reported on its own, out of the candidates' denominator.
    assert results["not_sure"]["votes"] == 2
    assert results["not_sure"]["share"].value == pytest.approx(2 / 12)
    # Two items, 7 wins to 3: the Bradley-Terry log-strengths are +-ln(7/3)/2, up to the
    # weak regularisation.
    scale = rows["telea"]["scale"]
    assert scale.value == pytest.approx(0.4236, abs=0.02)
    assert rows["navier_stokes"]["scale"].value == pytest.approx(-0.4236, abs=0.02)
    assert scale.low < scale.value < scale.high
    assert results["participants"] == 12
    assert results["trials"][0] == {
        "position": 1,
        "motif": "Demo motif 1",
        "candidates": ["navier_stokes", "telea"],
        "votes": 12,
        "retired": False,
        "retired_at": None,
    }


def test_study_results_exclude_participants_who_fail_the_attention_check(curator, restorations):
    study = make_study(curator, restorations, attention_check=True)
    first, second = study.trials.order_by("position")

    def answers(who, on_first, on_second, on_repeat):
        vote(first, who, on_first and engine_token(first, on_first))
        vote(second, who, on_second and engine_token(second, on_second))
        vote(first, who, on_repeat and engine_token(first, on_repeat), repeat=True)

    answers(participant(1), "telea", "telea", "navier_stokes")  # changed their mind: excluded
    answers(participant(2), "navier_stokes", "telea", "navier_stokes")
    answers(participant(3), None, "navier_stokes", None)  # "not sure" twice is consistent

    results = selectors.study_results(study=study)

    assert results["attention"] == {
        "enabled": True,
        "checked": 3,
        "passed": 2,
        "failed": 1,
        "excluded_votes": 2,
    }
    rows = {row["engine"]: row for row in results["engines"]}
    assert rows["telea"]["votes"] == 1
    assert rows["navier_stokes"]["votes"] == 2
    assert results["decisive"] == 3 and results["counted"] == 4
    assert rows["navier_stokes"]["share"].value == pytest.approx(2 / 3)
    # Repeats never count as votes of their own.
    assert sum(trial["votes"] for trial in results["trials"]) == 6


def test_study_results_timeline_counts_first_votes_per_day(curator, restorations):
    study = make_study(curator, restorations)
    first, second = study.trials.order_by("position")
    people = [participant(n) for n in range(3)]
    votes = [vote(first, who, tokens(first)[0]) for who in people]
    votes.append(vote(second, people[0], tokens(second)[1]))
    monday = timezone.make_aware(datetime.datetime(2026, 3, 2, 12))
    StudyVote.objects.filter(pk__in=[votes[0].pk, votes[1].pk]).update(created_at=monday)
    StudyVote.objects.filter(pk__in=[votes[2].pk, votes[3].pk]).update(
        created_at=monday + datetime.timedelta(days=2)
    )

    timeline = selectors.study_results(study=study)["timeline"]

    assert timeline == [(datetime.date(2026, 3, 2), 2), (datetime.date(2026, 3, 4), 2)]


def test_study_vote_rows_name_engines_in_the_order_shown(curator, restorations):
    study = make_study(curator, restorations)
    trial = study.trials.get(position=1)
    navier = engine_token(trial, "navier_stokes")
    who = participant(4)
    cast = vote(trial, who, navier)
    unsure = vote(study.trials.get(position=2), who, None)
    shown_engines = [trial.candidates.get(token=token).restoration.engine for token in cast.shown]

    rows = list(selectors.study_vote_rows(study=study))

    assert rows[0] == (
        cast.pk,
        study.slug,
        1,
        "Demo motif 1",
        str(who.pk),
        navier,
        "navier_stokes",
        False,
        ";".join(shown_engines),
        cast.created_at.isoformat(),
        "restoration",
    )
    assert rows[1][0] == unsure.pk and rows[1][5:7] == ("", "not sure")
    assert rows[1][-1] == ""
    assert len(rows[0]) == len(selectors.VOTE_COLUMNS)


def test_study_for_user_hides_drafts_from_everyone_but_curators(curator, expert, restorations):
    draft = make_study(curator, restorations, open_now=False)

    assert selectors.study_for_user(user=AnonymousUser(), slug=draft.slug) is None
    assert selectors.study_for_user(user=expert, slug=draft.slug) is None
    assert selectors.study_for_user(user=curator, slug=draft.slug) == draft


def test_a_visitor_keeps_their_order_from_before_the_first_vote(curator, restorations):
    study = make_study(curator, restorations)
    many_trials(study, restorations, 4)
    key = uuid.UUID(int=42)
    pending = Participant(pk=key)  # known from the cookie, not saved until the first vote

    before = [selectors.study_next(study=study, participant=pending)[0].position]
    saved = services.participant_create(ip_hash="", participant_id=key)
    after = [position for position, _ in walk(study, saved)]

    assert saved.pk == key
    assert after[0] == before[0] and len(after) == 6
    # New visitors do not all start on the same image set.
    starts = {
        selectors.study_next(study=study, participant=Participant(pk=uuid.UUID(int=n)))[0].pk
        for n in range(100, 110)
    }
    assert len(starts) > 1
