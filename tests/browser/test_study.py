"""A visitor without an account votes in a study: chooses, may change their mind, confirms
(mouse or keyboard), enlarges candidates, and cannot vote twice on one image set."""

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


@pytest.fixture
def study(curator, restorations):
    return services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        restorations=restorations,
        open_now=True,
    )


def start(page, live_server, study):
    page.goto(f"{live_server.url}{study.get_absolute_url()}")
    page.get_by_role("link", name="Start").click()
    page.wait_for_selector("text=Image set 1 of 2")


def token_of(page, label: str) -> str:
    return page.get_by_role("radio", name=label).get_attribute("value")


def test_visitor_votes_once_per_image_set_even_after_going_back(page, live_server, study):
    start(page, live_server, study)
    first_trial = page.input_value("input[name=trial]")
    page.locator("label[for=choice-A]").click()  # the candidate's image
    page.get_by_role("button", name="Confirm candidate A").click()
    page.wait_for_selector("text=Image set 2 of 2")
    assert page.input_value("input[name=trial]") != first_trial

    # The browser's back button brings the first image set back, as it was shown.
    page.go_back()
    page.wait_for_selector("text=Image set 1 of 2")
    assert page.input_value("input[name=trial]") == first_trial
    page.locator("label[for=choice-B]").click()
    page.get_by_role("button", name="Confirm candidate B").click()

    page.wait_for_selector("text=You have already voted on this image set.")
    participant = Participant.objects.get()
    votes = StudyVote.objects.filter(participant=participant, trial_id=int(first_trial))
    assert votes.count() == 1
    assert StudyVote.objects.count() == 1
    assert page.get_by_text("Image set 2 of 2").is_visible()


def test_a_visitor_votes_with_the_keyboard_and_confirms(page, live_server, study):
    start(page, live_server, study)
    first_trial = page.input_value("input[name=trial]")
    first, second = token_of(page, "Candidate A"), token_of(page, "Candidate B")
    assert page.get_by_text("Enter confirm the choice").is_visible()  # the keyboard help

    page.keyboard.press("2")
    assert page.get_by_role("radio", name="Candidate B").is_checked()
    assert page.evaluate("document.activeElement.value") == second  # the focus ring is on it
    assert "Candidate B chosen" in page.inner_text("[data-study-selection]")
    assert page.locator("label[for=choice-B] .study-chosen").is_visible()

    page.keyboard.press("1")  # a change of mind
    assert page.get_by_role("radio", name="Candidate A").is_checked()
    assert not page.get_by_role("radio", name="Candidate B").is_checked()
    assert not page.locator("label[for=choice-B] .study-chosen").is_visible()
    assert StudyVote.objects.count() == 0

    page.keyboard.press("Enter")
    page.wait_for_selector("text=Image set 2 of 2")
    vote = StudyVote.objects.get()
    assert vote.trial_id == int(first_trial)
    assert vote.candidate.token == first
    assert page.input_value("input[name=trial]") != first_trial


def test_clicking_a_candidate_chooses_it_without_voting(page, live_server, study):
    start(page, live_server, study)
    page.locator("label[for=choice-B]").click()
    page.locator("label[for=choice-A]").click()

    assert page.get_by_role("radio", name="Candidate A").is_checked()
    assert page.get_by_text("Image set 1 of 2").is_visible()
    assert StudyVote.objects.count() == 0

    page.get_by_role("button", name="Confirm candidate A").click()
    page.wait_for_selector("text=Image set 2 of 2")
    assert StudyVote.objects.get().candidate.token != ""


def test_confirming_with_nothing_chosen_says_so_and_sends_nothing(page, live_server, study):
    start(page, live_server, study)
    page.get_by_role("button", name="Confirm choice").click()

    assert "Choose a candidate first" in page.inner_text("[data-study-selection]")
    assert page.get_by_text("Image set 1 of 2").is_visible()
    assert StudyVote.objects.count() == 0


def test_a_candidate_is_enlarged_and_escape_closes_it_without_voting(page, live_server, study):
    start(page, live_server, study)
    dialog = page.get_by_role("dialog")
    page.get_by_role("link", name="Enlarge candidate B").click()
    dialog.wait_for()
    assert dialog.get_by_role("heading").inner_text() == "Candidate B"
    src = page.get_attribute("[data-zoom-image]", "src")
    assert src.endswith(f"/studies/candidates/{token_of(page, 'Candidate B')}.jpg")
    page.wait_for_function("document.querySelector('[data-zoom-image]').naturalWidth > 0")
    # Drawn far larger than the candidate on the page (half the width at most).
    drawn = page.evaluate(
        """() => {
            const img = document.querySelector('[data-zoom-image]');
            const scale = Math.min(img.clientWidth / img.naturalWidth,
                                   img.clientHeight / img.naturalHeight);
            return img.naturalWidth * scale;
        }"""
    )
    assert drawn > 1.5 * page.locator("label[for=choice-B] img").bounding_box()["width"]

    page.keyboard.press("ArrowRight")  # the other candidate, in the same view
    assert dialog.get_by_role("heading").inner_text() == "Candidate A"
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # Z enlarges the chosen candidate; choosing inside the view closes it.
    page.keyboard.press("2")
    page.keyboard.press("z")
    dialog.wait_for()
    assert dialog.get_by_role("heading").inner_text() == "Candidate B"
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.get_by_role("radio", name="Candidate B").is_checked()
    assert page.get_by_text("Image set 1 of 2").is_visible()
    assert StudyVote.objects.count() == 0


def test_on_a_phone_the_candidates_and_the_confirm_button_are_on_screen_together(
    browser, live_server, study
):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        start(page, live_server, study)
        page.wait_for_function(
            "[...document.querySelectorAll('.study-candidate img')].every(i => i.naturalWidth)"
        )
        width = page.evaluate("document.documentElement.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        def on_screen(locator) -> bool:
            box = locator.bounding_box()
            return (
                box["x"] >= 0
                and box["y"] >= 0
                and box["x"] + box["width"] <= width
                and (box["y"] + box["height"] <= 844)
            )

        confirm = page.get_by_role("button", name="Confirm choice")
        candidates = [page.locator(f"label[for=choice-{letter}]") for letter in "AB"]
        assert on_screen(confirm)
        assert all(on_screen(candidate) for candidate in candidates)

        # Tapped, a candidate is chosen; the button that sends it is still in reach.
        candidates[1].tap()
        confirm = page.get_by_role("button", name="Confirm candidate B")
        assert on_screen(confirm) and on_screen(candidates[1])
        confirm.tap()
        page.wait_for_selector("text=Image set 2 of 2")
        assert StudyVote.objects.count() == 1
    finally:
        context.close()
