"""gallery.services.studies: setting studies up, and the rules every vote must pass."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from gallery.models import Participant, ServedTrial, StudyTrial, StudyVote, UserStudy
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


def serve(trial: StudyTrial, participant: Participant, *, repeat: bool = False) -> ServedTrial:
    """The trial handed to the participant as its page does, stored as served."""
    served = services.trial_serve(
        study=trial.study, participant=participant, position=trial.position
    )
    assert served is not None and served.trial == trial and served.repeat is repeat
    return served


def vote(trial, participant, index: int | None = 0, *, repeat: bool = False, **options):
    """Serve the trial, then vote on it as shown: the legitimate flow."""
    shown = serve(trial, participant, repeat=repeat).shown
    return services.vote_cast(
        trial=trial,
        participant=participant,
        choice=None if index is None else shown[index],
        shown=shown,
        repeat=repeat,
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
    shown = serve(trial, participant).shown

    cast = services.vote_cast(
        trial=trial, participant=participant, choice=shown[1], shown=shown, ip_hash="b" * 64
    )

    cast.refresh_from_db()
    assert sorted(shown) == sorted(tokens(trial))
    assert cast.candidate.token == shown[1]
    assert cast.shown == shown
    assert cast.repeat is False
    assert cast.ip_hash == "b" * 64


def test_vote_cast_refuses_a_second_vote_on_the_same_trial(curator, restorations):
    study = make_study(curator, restorations)
    trial = study.trials.get(position=1)
    participant = new_participant()
    first = vote(trial, participant, 0)

    with pytest.raises(ValidationError, match="You have already voted on this image set."):
        vote(trial, participant, 1)

    assert StudyVote.objects.filter(trial=trial, participant=participant).count() == 1
    # The first choice stands (the candidates were shown in a random order).
    assert StudyVote.objects.get(trial=trial).candidate_id == first.candidate_id


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
    latecomer = new_participant()
    late_shown = serve(trial, latecomer).shown  # still on screen when the trial retires
    vote(trial, new_participant(), 0)
    trial.refresh_from_db()
    assert trial.retired_at is None

    vote(trial, new_participant(), 1)

    trial.refresh_from_db()
    assert trial.retired_at is not None
    with pytest.raises(ValidationError, match="has collected enough votes; here is another"):
        services.vote_cast(
            trial=trial, participant=latecomer, choice=late_shown[0], shown=late_shown
        )
    assert StudyVote.objects.filter(trial=trial).count() == 2
    # Once retired it is not handed out again, and the other image set is still offered.
    assert services.trial_serve(study=study, participant=latecomer, position=1) is None
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
    shown = serve(first, participant).shown

    with pytest.raises(ValidationError, match="not part of this image set"):
        services.vote_cast(
            trial=first, participant=participant, choice=tokens(second)[0], shown=shown
        )
    assert not StudyVote.objects.exists()


def test_vote_cast_refuses_a_shown_order_that_is_not_the_trials(curator, restorations):
    study = make_study(curator, restorations)
    first, second = study.trials.order_by("position")
    participant = new_participant()
    serve(first, participant)

    with pytest.raises(ValidationError, match="do not match this image set"):
        services.vote_cast(
            trial=first,
            participant=participant,
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


def test_vote_cast_takes_the_served_repeat_once_even_on_a_retired_trial(curator, restorations):
    study = make_study(curator, restorations, attention_check=True, retire_after=1)
    first, second = study.trials.order_by("position")
    participant = new_participant()
    vote(first, participant, 0)
    vote(second, participant, 0)
    first.refresh_from_db()
    assert first.retired_at is not None

    # Retirement keeps new participants away, not the participant's own attention check.
    served = serve(first, participant, repeat=True)
    assert sorted(served.shown) == sorted(tokens(first))
    repeated = services.vote_cast(
        trial=first,
        participant=participant,
        choice=served.shown[1],
        shown=served.shown,
        repeat=True,
    )
    assert repeated.repeat is True

    with pytest.raises(ValidationError, match="already voted"):
        services.vote_cast(
            trial=first, participant=participant, choice=None, shown=served.shown, repeat=True
        )
    assert StudyVote.objects.filter(trial=first, participant=participant).count() == 2


def forged(trial: StudyTrial, participant: Participant, **vote) -> ValidationError:
    """The error a vote that disagrees with what was served raises; asserts nothing changed."""
    before = list(StudyVote.objects.values_list("pk", flat=True))
    with pytest.raises(ValidationError) as error:
        services.vote_cast(trial=trial, participant=participant, **vote)
    assert list(StudyVote.objects.values_list("pk", flat=True)) == before
    trial.refresh_from_db()
    assert trial.retired_at is None
    return error.value


def test_vote_cast_refuses_a_vote_on_a_trial_never_served_to_the_participant(curator, restorations):
    study = make_study(curator, restorations, retire_after=1)
    first, second = study.trials.order_by("position")
    participant = new_participant()
    serve(first, participant)
    # Served to someone else: that does not make it served to this participant.
    serve(second, new_participant())

    error = forged(second, participant, choice=tokens(second)[0], shown=tokens(second))

    assert error.code == "not_served"
    assert error.messages == [services.NOT_SERVED]


def test_vote_cast_refuses_a_repeat_the_server_did_not_choose(curator, restorations):
    study = make_study(curator, restorations, attention_check=True)
    first, second = study.trials.order_by("position")
    participant = new_participant()
    shown = serve(first, participant).shown

    # After a first vote, claiming the attention check on that same trial at once.
    vote(first, participant, 0)
    error = forged(first, participant, choice=shown[1], shown=shown, repeat=True)
    assert error.code == "repeat" and error.messages == [services.REPEAT_NOT_SERVED]
    # And on the trial the server did not choose to repeat, once the check is due.
    vote(second, participant, 0)
    serve(first, participant, repeat=True)
    error = forged(second, participant, choice=tokens(second)[0], shown=tokens(second), repeat=True)
    assert error.code == "repeat"
    # In a study without an attention check.
    plain = make_study(curator, restorations)
    trial = plain.trials.get(position=1)
    shown = serve(trial, participant).shown
    vote(trial, participant, 0)
    assert forged(trial, participant, choice=shown[0], shown=shown, repeat=True).code == "repeat"
    assert not StudyVote.objects.filter(repeat=True).exists()


def test_vote_cast_refuses_a_shown_order_other_than_the_one_served(curator, restorations):
    study = make_study(curator, restorations)
    trial = study.trials.get(position=1)
    participant = new_participant()
    shown = serve(trial, participant).shown

    for claimed in (list(reversed(shown)), shown[:1], [*shown, shown[0]]):
        error = forged(trial, participant, choice=shown[0], shown=claimed)
        assert error.code == "shown"
        assert error.messages == [services.SHOWN_DIFFERS]
    assert vote(trial, participant, 0).shown == shown


def test_trial_serve_stores_one_order_and_the_servers_choice_of_repeat(curator, restorations):
    study = make_study(curator, restorations, attention_check=True)
    participant = new_participant()

    first = services.trial_serve(study=study, participant=participant)
    again = services.trial_serve(study=study, participant=participant)
    # A reload or the back button hands out the stored order, whatever the order generator says.
    ServedTrial.objects.filter(pk=first.pk).update(shown=list(reversed(first.shown)))
    reloaded = services.trial_serve(study=study, participant=participant)

    assert again.pk == first.pk and again.shown == first.shown
    assert reloaded.shown == list(reversed(first.shown))
    assert ServedTrial.objects.count() == 1 and not first.repeat
    vote(first.trial, participant, 0)
    other = services.trial_serve(study=study, participant=participant)
    vote(other.trial, participant, 0)
    check = services.trial_serve(study=study, participant=participant)
    assert check.repeat and check.trial == first.trial
    assert ServedTrial.objects.filter(participant_key=participant.pk, repeat=True).count() == 1


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
