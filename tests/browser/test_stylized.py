"""A visitor meets stylized images: an exhibition work compared with its photograph, and a
style study where a real painting is one of the candidates."""

import pytest
from django.core.cache import cache

from gallery.models import STYLE_QUESTION, StudyVote
from gallery.services import exhibitions as exhibition_services
from gallery.services import studies as study_services
from tests.gallery.stylized import make_painting, make_photograph, make_stylized

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def curator(settings, tmp_path, django_user_model):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    return django_user_model.objects.create_user(username="curator-s", role="curator")


def test_a_stylized_work_is_compared_with_its_photograph_and_has_no_outline(
    page, live_server, curator
):
    photo = make_photograph(user=curator, seed=3, title="River bend")
    stylized = make_stylized(motif=photo, user=curator, engine="cut")
    exhibition = exhibition_services.exhibition_create(created_by=curator, title="Blue-green")
    exhibition_services.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=photo, restoration=stylized
    )
    exhibition_services.exhibition_publish(exhibition=exhibition, user=curator)

    page.goto(f"{live_server.url}{exhibition.get_absolute_url()}1/")

    for side in ("before", "after"):
        page.wait_for_function(
            f"() => document.querySelector('[data-slider] .{side}').naturalWidth === 64"
        )
    assert page.locator("#outline-toggle").count() == 0
    assert page.locator("#work-outline").count() == 0
    assert "What is style transfer?" in page.inner_text(".explainer")
    slider = page.locator("#work-slider-input")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert slider.get_attribute("aria-valuetext") == "55% photograph"
    assert "Stylized by a model from a photograph" in page.inner_text(".metadata")
    assert "cut" not in page.content().lower().replace("shortcut", "")


def test_a_visitor_votes_for_a_real_painting_without_being_told_it_is_one(
    page, live_server, curator
):
    photo = make_photograph(user=curator, seed=4, title="Ridge")
    stylized = make_stylized(motif=photo, user=curator, engine="cyclegan")
    painting = make_painting(user=curator, seed=5, title="Qinglv scroll")
    study = study_services.study_create(
        created_by=curator,
        title="Blue-green",
        question=STYLE_QUESTION,
        restorations=[stylized],
        artworks=[painting],
        show_input=False,
        open_now=True,
    )

    page.goto(f"{live_server.url}{study.get_absolute_url()}")
    page.get_by_role("link", name="Start").click()
    page.wait_for_selector("text=Image set 1 of 1")
    assert STYLE_QUESTION in page.inner_text("h1")
    text = page.inner_text("main").lower()
    assert "painting" not in text and "scroll" not in text and "cyclegan" not in text
    for index in range(2):
        page.wait_for_function(
            f"() => document.querySelectorAll('.study-candidate img')[{index}].naturalWidth === 64"
        )
    painting_token = study.trials.get().candidates.get(artwork=painting).token
    choice = page.get_attribute(f"input[value='{painting_token}']", "id")
    page.click(f"label[for={choice}]")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_server.url}/studies/{study.slug}/thanks/")

    vote = StudyVote.objects.get()
    assert vote.candidate.artwork == painting
