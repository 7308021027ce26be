"""Elements marked `hidden` stay hidden, whatever display a class rule of the site gives them."""

import pytest

from heritage import services as heritage_services
from restoration import services as restoration_services
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every element carrying the hidden attribute, with what the browser computes for its display.
SHOWN_WHILE_HIDDEN = """
() => [...document.querySelectorAll("[hidden]")]
  .filter((element) => getComputedStyle(element).display !== "none")
  .map((element) => element.outerHTML.slice(0, 120))
"""


def test_a_new_job_page_shows_no_broken_image_before_the_first_estimate(signed_in, live_server):
    page, user = signed_in
    motif = factories.make_demo_motif(user=user, width=96, height=64)
    annotation = heritage_services.annotation_simulate(
        motif=motif, author=user, protocol="blocks", seed=1
    )
    # Not queued: the page stays as a job shows it before its engine sends any estimate.
    job = restoration_services.job_create(
        requested_by=user, annotation=annotation, engine="telea", queue=False
    )

    page.goto(f"{live_server.url}{job.get_absolute_url()}")

    preview = page.locator("#job-preview")
    assert preview.get_attribute("hidden") is not None
    assert preview.evaluate("element => getComputedStyle(element).display") == "none"
    assert preview.bounding_box() is None
    # The caption that says an estimate will appear is what the curator sees instead.
    assert page.locator("#job-preview-caption").is_visible()
    assert page.evaluate(SHOWN_WHILE_HIDDEN) == []
