"""A visitor without an account votes in a study and cannot vote twice on one image set."""

import pytest

from gallery.models import Participant, StudyVote
from gallery.services import studies as services
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def restorations(curator, media):
    """Two motifs, each restored by two engines: two image sets of two candidates."""
    made = []
    for seed in (1, 2):
        motif = factories.make_demo_motif(user=curator, seed=seed, title=f"Wall {seed}")
        annotation = factories.make_annotation(motif=motif, user=curator)
        for engine in ("telea", "navier_stokes"):
            made.append(
                factories.make_restoration(annotation=annotation, user=curator, engine=engine)
            )
    return made


def test_visitor_votes_once_per_image_set_even_after_going_back(
    page, live_server, curator, restorations
):
    study = services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        restorations=restorations,
        open_now=True,
    )

    page.goto(f"{live_server.url}{study.get_absolute_url()}")
    page.get_by_role("link", name="Start").click()
    page.wait_for_selector("text=Image set 1 of 2")
    first_trial = page.input_value("input[name=trial]")
    page.get_by_role("button", name="Candidate A").click()
    page.wait_for_selector("text=Image set 2 of 2")
    assert page.input_value("input[name=trial]") != first_trial

    # The browser's back button brings the first image set back, as it was shown.
    page.go_back()
    page.wait_for_selector("text=Image set 1 of 2")
    assert page.input_value("input[name=trial]") == first_trial
    page.get_by_role("button", name="Candidate B").click()

    page.wait_for_selector("text=You have already voted on this image set.")
    participant = Participant.objects.get()
    votes = StudyVote.objects.filter(participant=participant, trial_id=int(first_trial))
    assert votes.count() == 1
    assert StudyVote.objects.count() == 1
    assert page.get_by_text("Image set 2 of 2").is_visible()
