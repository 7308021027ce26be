"""A visitor opens an exhibition, compares a work with the slider by mouse and keyboard."""

import re

import pytest
from django.core.cache import cache

from gallery.services import exhibitions as services
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def exhibition(settings, tmp_path, django_user_model):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    curator = django_user_model.objects.create_user(username="curator-e", role="curator")
    motif = factories.make_demo_motif(user=curator, width=320, height=240, title="Blue horses")
    annotation = factories.make_annotation(
        motif=motif, user=curator, mask=factories.block_mask(motif, top=60, left=80, size=80)
    )
    restoration = factories.make_restoration(annotation=annotation, user=curator)
    second = factories.make_demo_motif(user=curator, seed=5, width=200, height=160, title="Deer")
    exhibition = services.exhibition_create(
        created_by=curator, title="Horses of the cliff", summary="Rock art, restored."
    )
    services.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=motif, restoration=restoration
    )
    services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=second)
    services.exhibition_publish(exhibition=exhibition, user=curator)
    return exhibition


def _split(page) -> tuple[str, str]:
    """The after image's clip-path and the slider's --split, as the page has them now."""
    clip, split = page.evaluate(
        """() => {
          const slider = document.querySelector('[data-slider]');
          return [slider.querySelector('.after').style.clipPath,
                  slider.style.getPropertyValue('--split')];
        }"""
    )
    return clip, split


def _missing_alt(page) -> list[str]:
    return page.eval_on_selector_all(
        "img", "imgs => imgs.filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.src)"
    )


def test_visitor_opens_an_exhibition_and_compares_before_and_after(page, live_server, exhibition):
    page.goto(f"{live_server.url}/")
    assert _missing_alt(page) == []
    page.click(".exhibition-card a:has-text('Horses of the cliff')")
    page.wait_for_url(f"{live_server.url}/exhibitions/{exhibition.slug}/")
    assert _missing_alt(page) == []
    assert page.locator(".work-card img").first.get_attribute("alt") == (
        "Blue horses, digitally restored"
    )

    page.click(".work-card a:has-text('Blue horses')")
    page.wait_for_url(f"{live_server.url}/exhibitions/{exhibition.slug}/1/")
    assert _missing_alt(page) == []
    slider = page.locator("#work-slider-input")
    assert _split(page) == ("inset(0px 0px 0px 50%)", "50%")

    # Keyboard: the arrow keys move the split one percent a press, and say where it is.
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert _split(page) == ("inset(0px 0px 0px 55%)", "55%")
    assert slider.get_attribute("aria-valuetext") == "55% before"
    for _ in range(15):
        page.keyboard.press("ArrowLeft")
    assert _split(page) == ("inset(0px 0px 0px 40%)", "40%")
    assert slider.get_attribute("aria-valuetext") == "40% before"
    # Inside the slider the arrows never leave the work.
    assert page.url.endswith(f"/{exhibition.slug}/1/")

    # Mouse: dragging the handle to a fifth of the width shows a fifth of the "before" image.
    box = slider.bounding_box()
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, middle)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, middle, steps=8)
    page.mouse.up()
    share = int(slider.input_value())
    assert 15 <= share <= 25
    assert _split(page) == (f"inset(0px 0px 0px {share}%)", f"{share}%")
    assert slider.get_attribute("aria-valuetext") == f"{share}% before"

    # The slider fits the screen and keeps the work's proportions.
    frame = page.locator("[data-slider]").bounding_box()
    assert frame["height"] <= 900 * 0.8 + 1
    assert abs(frame["width"] / frame["height"] - 320 / 240) < 0.02

    # The outline: Tab from the slider reaches the toggle; Space shows it, Enter hides it.
    outline = page.locator("#work-outline")
    toggle = page.locator("#outline-toggle")
    assert outline.is_hidden() and toggle.get_attribute("aria-pressed") == "false"
    slider.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "outline-toggle"
    page.keyboard.press("Space")
    assert outline.is_visible() and toggle.get_attribute("aria-pressed") == "true"
    page.wait_for_function("() => document.querySelector('#work-outline').naturalWidth === 320")
    page.keyboard.press("Enter")
    assert outline.is_hidden() and toggle.get_attribute("aria-pressed") == "false"

    for side in ("before", "after"):
        page.wait_for_function(
            f"() => document.querySelector('[data-slider] .{side}').naturalWidth === 320"
        )
    assert "What is virtual restoration?" in page.inner_text(".explainer")

    # Outside the slider, the right arrow opens the next work, shown as photographed.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"{live_server.url}/exhibitions/{exhibition.slug}/2/")
    assert page.locator("[data-slider]").count() == 0
    assert page.locator(".work-photo img").get_attribute("alt") == "Deer, as photographed"
    assert re.search("shown as photographed", page.inner_text("main"), re.IGNORECASE)
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"{live_server.url}/exhibitions/{exhibition.slug}/1/")


def test_work_page_reads_on_a_phone(browser, live_server, exhibition):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/exhibitions/{exhibition.slug}/1/")
        # Nothing wider than the screen: no sideways scrolling on a 360 px phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        frame = page.locator("[data-slider]").bounding_box()
        assert frame["width"] <= 360 and frame["x"] >= 0
    finally:
        context.close()
