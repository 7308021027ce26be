"""gallery.services.studies: setting studies up, and the rules every vote must pass."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from gallery.models import Participant, StudyTrial, StudyVote, UserStudy
from gallery.selectors.studies import study_next
from gallery.services import studies as services
from tests import factories

pytestmark = pytest.mark.django_db

QUESTION = "Which image best represents the original artwork?"


def make_study(curator, restorations, **options) -> UserStudy:
    options.setdefault("open_now", True)
    return services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question=QUESTION,
        restorations=restorations,
        **options,
    )


def tokens(trial: StudyTrial) -> list[str]:
    return list(trial.candidates.order_by("id").values_list("token", flat=True))


def vote(trial, participant, index: int | None = 0, **options) -> StudyVote:
    shown = tokens(trial)
    return services.vote_cast(
        trial=trial,
        participant=participant,
        choice=None if index is None else shown[index],
        shown=shown,
        **options,
    )


def new_participant() -> Participant:
    return services.participant_create(ip_hash="a" * 64)


def test_study_create_makes_one_trial_per_input_with_its_restorations(curator, restorations):
    study = make_study(curator, restorations)

    trials = list(study.trials.order_by("position"))
    assert [trial.position for trial in trials] == [1, 2]
    by_motif = {
        trial.motif.title: set(trial.candidates.values_list("restoration_id", flat=True))
        for trial in trials
    }
    assert by_motif == {
        "Demo motif 1": {restorations[0].pk, restorations[1].pk},
        "Demo motif 2": {restorations[2].pk, restorations[3].pk},
    }
    all_tokens = [token for trial in trials for token in tokens(trial)]
    assert len(set(all_tokens)) == 4
    assert all(len(token) == 17 and token[0].isalpha() for token in all_tokens)
    assert study.slug == "which-restoration-reads-best"
    assert study.status == UserStudy.Status.OPEN and study.opened_at is not None
    assert study.created_by == curator


def test_study_create_keeps_different_damage_on_one_motif_apart(curator, motifs, restorations):
    motif, _ = motifs[0]
    other = factories.make_annotation(
        motif=motif, user=curator, mask=factories.block_mask(motif, top=24, left=30, size=10)
    )
    more = [
        factories.make_restoration(annotation=other, user=curator, engine=engine)
        for engine in ("telea", "navier_stokes")
    ]

    study = make_study(curator, restorations[:2] + more)

    trials = list(study.trials.order_by("position"))
    assert len(trials) == 2
    assert {trial.motif_id for trial in trials} == {motif.pk}
    groups = [set(trial.candidates.values_list("restoration_id", flat=True)) for trial in trials]
    assert {frozenset(group) for group in groups} == {
        frozenset({restorations[0].pk, restorations[1].pk}),
        frozenset({more[0].pk, more[1].pk}),
    }


def test_study_create_refuses_an_input_with_a_single_candidate(curator, restorations):
    with pytest.raises(ValidationError) as error:
        make_study(curator, restorations[:3])

    assert (
        '"Demo motif 2" needs at least two candidates for the same input' in error.value.messages[0]
    )
    assert not UserStudy.objects.exists()


def test_study_create_is_for_curators_only(expert, restorations):
    with pytest.raises(PermissionDenied):
        make_study(expert, restorations)


def test_study_create_refuses_retiring_after_zero_votes(curator, restorations):
    with pytest.raises(ValidationError, match="at least 1"):
        make_study(curator, restorations, retire_after=0)


def test_study_create_makes_slugs_unique_and_starts_as_draft(curator, restorations):
    first = make_study(curator, restorations, open_now=False)
    second = make_study(curator, restorations, open_now=False)

    assert first.slug == "which-restoration-reads-best"
    assert second.slug == "which-restoration-reads-best-2"
    assert second.status == UserStudy.Status.DRAFT and second.opened_at is None


def test_vote_cast_records_the_choice_and_the_order_shown(curator, restorations):
    study = make_study(curator, restorations)
    trial = study.trials.get(position=1)
    participant = new_participant()
    shown = list(reversed(tokens(trial)))

    cast = services.vote_cast(
        trial=trial, participant=participant, choice=shown[0], shown=shown, ip_hash="b" * 64
    )

    cast.refresh_from_db()
    assert cast.candidate.token == shown[0]
    assert cast.shown == shown
    assert cast.repeat is False
    assert cast.ip_hash == "b" * 64


def test_vote_cast_refuses_a_second_vote_on_the_same_trial(curator, restorations):
    study = make_study(curator, restorations)
    trial = study.trials.get(position=1)
    participant = new_participant()
    vote(trial, participant, 0)

    with pytest.raises(ValidationError, match="You have already voted on this image set."):
        vote(trial, participant, 1)

    assert StudyVote.objects.filter(trial=trial, participant=participant).count() == 1
    assert StudyVote.objects.get(trial=trial).candidate.token == tokens(trial)[0]


def test_vote_constraint_refuses_a_duplicate_row_in_the_database(curator, restorations):
    study = make_study(curator, restorations)
    trial = study.trials.get(position=1)
    participant = new_participant()
    first = vote(trial, participant, 0)

    with pytest.raises(IntegrityError), transaction.atomic():
        StudyVote.objects.create(
            trial=trial, participant=participant, candidate=first.candidate, repeat=False
        )


def test_vote_cast_retires_a_trial_at_the_configured_count(curator, restorations):
    study = make_study(curator, restorations, retire_after=2)
    trial = study.trials.get(position=1)
    vote(trial, new_participant(), 0)
    trial.refresh_from_db()
    assert trial.retired_at is None

    vote(trial, new_participant(), 1)

    trial.refresh_from_db()
    assert trial.retired_at is not None
    latecomer = new_participant()
    with pytest.raises(ValidationError, match="has collected enough votes; here is another"):
        vote(trial, latecomer, 0)
    assert StudyVote.objects.filter(trial=trial).count() == 2
    # The other image set is still offered to the latecomer.
    following, repeat = study_next(study=study, participant=latecomer)
    assert following.position == 2 and repeat is False
    vote(following, latecomer, 0)


def test_vote_cast_accepts_not_sure_only_where_offered(curator, restorations):
    offered = make_study(curator, restorations)
    cast = vote(offered.trials.first(), new_participant(), None)
    assert cast.candidate is None

    strict = make_study(curator, restorations, allow_not_sure=False)
    participant = new_participant()
    with pytest.raises(ValidationError, match="choose one of the images"):
        vote(strict.trials.first(), participant, None)
    assert not StudyVote.objects.filter(participant=participant).exists()


def test_vote_cast_refuses_a_token_of_another_trial(curator, restorations):
    study = make_study(curator, restorations)
    first, second = study.trials.order_by("position")
    participant = new_participant()

    with pytest.raises(ValidationError, match="not part of this image set"):
        services.vote_cast(
            trial=first, participant=participant, choice=tokens(second)[0], shown=tokens(first)
        )
    assert not StudyVote.objects.exists()


def test_vote_cast_refuses_a_shown_order_that_is_not_the_trials(curator, restorations):
    study = make_study(curator, restorations)
    first, second = study.trials.order_by("position")

    with pytest.raises(ValidationError, match="do not match this image set"):
        services.vote_cast(
            trial=first,
            participant=new_participant(),
            choice=tokens(first)[0],
            shown=[tokens(first)[0], tokens(second)[0]],
        )


def test_vote_cast_refuses_votes_unless_the_study_is_open(curator, restorations):
    draft = make_study(curator, restorations, open_now=False)
    with pytest.raises(ValidationError, match="not taking votes"):
        vote(draft.trials.first(), new_participant(), 0)

    study = make_study(curator, restorations)
    services.study_close(study=study, user=curator)
    with pytest.raises(ValidationError, match="not taking votes"):
        vote(study.trials.first(), new_participant(), 0)
    assert not StudyVote.objects.exists()


def test_vote_cast_takes_a_repeat_only_after_a_first_vote_and_only_once(curator, restorations):
    study = make_study(curator, restorations, attention_check=True, retire_after=1)
    trial = study.trials.get(position=1)
    participant = new_participant()

    with pytest.raises(ValidationError, match="already voted on can be shown again"):
        vote(trial, participant, 0, repeat=True)

    vote(trial, participant, 0)
    trial.refresh_from_db()
    assert trial.retired_at is not None
    # Retirement keeps new participants away, not the participant's own attention check.
    repeated = vote(trial, participant, 1, repeat=True)
    assert repeated.repeat is True

    with pytest.raises(ValidationError, match="already voted"):
        vote(trial, participant, 0, repeat=True)
    assert StudyVote.objects.filter(trial=trial, participant=participant).count() == 2


def test_study_close_and_open_change_the_status_once(curator, restorations):
    study = make_study(curator, restorations)
    opened_at = study.opened_at

    services.study_close(study=study, user=curator)
    assert study.status == UserStudy.Status.CLOSED and study.closed_at is not None
    with pytest.raises(ValidationError, match="Only an open study"):
        services.study_close(study=study, user=curator)

    services.study_open(study=study, user=curator)
    assert study.status == UserStudy.Status.OPEN
    assert study.opened_at == opened_at and study.closed_at is None
    with pytest.raises(ValidationError, match="already open"):
        services.study_open(study=study, user=curator)


def test_study_open_is_for_curators_only(curator, expert, restorations):
    study = make_study(curator, restorations, open_now=False)

    with pytest.raises(PermissionDenied):
        services.study_open(study=study, user=expert)
    study.refresh_from_db()
    assert study.status == UserStudy.Status.DRAFT
