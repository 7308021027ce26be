"""A curator restores a motif and watches the job's progress live, then studies the result.

pytest-django's `live_server` is a WSGI server: it cannot carry the job page's WebSocket. These
tests serve `heritage.asgi.application` with Daphne instead, in a thread of the test process:
the thread sees the test database (PostgreSQL, or SQLite's in-memory one, which the connections
of one process share) and the settings the test changes, and the job runs for real in the
embedded runner's thread, publishing its progress through the server's event loop as in
production.
"""

from urllib.parse import urlsplit

import pytest

from heritage import services as heritage_services
from restoration.models import RestorationJob
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every value the progress bar takes, per page load, in sessionStorage (which survives
# the reload that shows the result), so the test sees what the page showed while it was live.
RECORD_PROGRESS = """
(() => {
  const load = `${performance.timeOrigin}`;
  const record = (bar) => {
    const seen = JSON.parse(sessionStorage.getItem("progress") || "[]");
    seen.push({load, value: bar.value, max: bar.max, time: performance.now()});
    sessionStorage.setItem("progress", JSON.stringify(seen));
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.target.id === "job-progress") record(change.target);
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ["value", "max"]});
})();
"""


def test_curator_watches_a_restoration_progress_live_then_sees_the_result(signed_in, asgi_server):
    page, user = signed_in
    motif = factories.make_demo_motif(user=user, width=256, height=192)
    annotation = heritage_services.annotation_simulate(
        motif=motif, author=user, protocol="blocks", seed=3
    )
    page.add_init_script(RECORD_PROGRESS)
    websockets = []
    page.on("websocket", lambda socket: websockets.append(socket.url))

    page.goto(f"{asgi_server}{motif.get_absolute_url()}")
    page.select_option("[data-engine-select]", "exemplar")
    page.fill("input[name=param-exemplar-iterations]", "10")
    page.click("form[data-engine-form] button[type=submit]")

    page.wait_for_url(f"{asgi_server}/restoration/jobs/*/")
    job = RestorationJob.objects.get()
    assert (job.engine, job.annotation_id, job.params["iterations"]) == (
        "exemplar",
        annotation.pk,
        10,
    )
    assert urlsplit(page.url).path == job.get_absolute_url()

    # The result section appears once the job has finished (the page reloads to show it).
    page.wait_for_selector("#result [data-slider], #job-status:not([hidden])", timeout=60_000)
    job.refresh_from_db()
    assert job.status == RestorationJob.Status.SUCCEEDED, (job.status, job.error)
    page.wait_for_selector("#result [data-slider]")
    assert any(url.endswith(f"/ws/restoration/jobs/{job.pk}/") for url in websockets)

    # While the job ran, one and the same page load showed the bar advancing step by step.
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('progress') || '[]')")
    by_load: dict[str, list[float]] = {}
    for entry in seen:
        if 0 < entry["value"] < entry["max"]:
            by_load.setdefault(entry["load"], []).append(entry["value"])
    live = max(by_load.values(), key=lambda values: len(set(values)), default=[])
    assert len(set(live)) >= 2, f"no live progress was shown: {seen}"
    assert live == sorted(live), "the progress bar went backwards"
    assert live[-1] > live[0]

    # The slider: the "after" image is clipped where the handle is dragged.
    after = page.locator("#result .compare-slider .after")
    assert after.evaluate("img => img.style.clipPath") == "inset(0px 0px 0px 50%)"
    box = page.locator("[data-slider-input]").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    share = float(page.locator("[data-slider-input]").input_value())
    assert 10 < share < 30
    clip = after.evaluate("img => img.style.clipPath")
    assert clip.startswith("inset(0px 0px 0px ") and clip != "inset(0px 0px 0px 50%)"
    assert float(clip.removeprefix("inset(0px 0px 0px ").removesuffix("%)")) == share

    # The outline of the reconstructed area is hidden until asked for, then shown.
    outline = page.locator("#result .compare-slider .outline")
    assert outline.is_hidden()
    page.check("#toggle-outline")
    assert outline.is_visible()
    page.wait_for_function("() => document.querySelector('#result .outline').naturalWidth === 256")
    page.uncheck("#toggle-outline")
    assert outline.is_hidden()

    # Before and after images are served, not just named.
    for side in ("before", "after"):
        page.wait_for_function(
            f"() => document.querySelector('#result .{side}').naturalWidth === 256"
        )


def test_curator_stylizes_a_photograph_watches_it_live_then_sees_input_and_output(
    signed_in, asgi_server, settings, tmp_path
):
    from tests.restoration import fakes

    page, user = signed_in
    fakes.with_style_engines(settings)
    checkpoint = fakes.register_tint(
        tmp_path / "weights", byte=90, name="Slow tint of the test", engine="slow_tint"
    )
    photo = factories.make_motif(
        user=user, width=256, height=160, seed=5, title="Hills", kind="photograph"
    )
    page.add_init_script(RECORD_PROGRESS)
    websockets = []
    page.on("websocket", lambda socket: websockets.append(socket.url))

    page.goto(f"{asgi_server}{photo.get_absolute_url()}")
    # A photograph offers style transfer, not damage marking.
    assert page.locator("#style-transfers details[open]").count() == 1
    assert page.locator("text=Mark damage").count() == 0
    page.select_option("[data-style-form] [data-engine-select]", "slow_tint")
    assert page.locator("[data-style-form] [data-engine-params=slow_tint]").is_visible()
    page.fill("input[name=param-slow_tint-tiles]", "8")
    page.fill("input[name=param-slow_tint-pause]", "0.4")
    page.click("#stylize")

    page.wait_for_url(f"{asgi_server}/restoration/jobs/*/")
    job = RestorationJob.objects.get()
    assert (job.task, job.engine, job.annotation_id, job.checkpoint) == (
        "stylize",
        "slow_tint",
        None,
        checkpoint,
    )
    assert page.locator("h1").inner_text().startswith(f"Style transfer #{job.pk}")

    page.wait_for_selector("#result .side-by-side, #job-status:not([hidden])", timeout=60_000)
    job.refresh_from_db()
    assert job.status == RestorationJob.Status.SUCCEEDED, (job.status, job.error)
    assert any(url.endswith(f"/ws/restoration/jobs/{job.pk}/") for url in websockets)
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('progress') || '[]')")
    live = sorted({entry["value"] for entry in seen if 0 < entry["value"] < entry["max"]})
    assert len(live) >= 2, f"no live progress was shown: {seen}"

    # Input and output side by side, both served; provenance; no restoration furniture.
    for image in ("#style-input", "#style-output"):
        page.wait_for_function(f"() => document.querySelector('{image}').naturalWidth === 256")
    provenance = page.locator("#provenance").inner_text()
    assert "slow_tint 1" in provenance and "Slow tint of the test" in provenance
    assert checkpoint.sha256 in provenance and "tiles=8" in provenance
    assert page.locator("#toggle-outline").count() == 0
    assert page.locator(".compare-slider").count() == 0
