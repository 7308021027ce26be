"""A curator starts a tiny training run from the UI and watches its loss curve grow live.

Served by Daphne (the package's `asgi_server`), so the run page's WebSocket works and the run
trains for real in the embedded runner's training thread.
"""

import pytest

from restoration.models import TrainingRun
from tests import factories

pytest.importorskip("torch")
pytest.importorskip("diffusers")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records how many loss points the curve shows, per page load, in sessionStorage (which
# survives the reload that shows the finished run).
RECORD_POINTS = """
(() => {
  const load = `${performance.timeOrigin}`;
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.target.id !== "training-live") continue;
      const seen = JSON.parse(sessionStorage.getItem("points") || "[]");
      seen.push({load, points: Number(change.target.dataset.points || 0)});
      sessionStorage.setItem("points", JSON.stringify(seen));
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-points"]});
})();
"""


def test_curator_starts_a_run_and_watches_the_loss_curve_until_it_finishes(
    signed_in, asgi_server, settings, tmp_path
):
    page, user = signed_in
    settings.TRAINING_DIR = tmp_path / "training"
    settings.TRAINING_MIN_MOTIFS = 3
    motifs = [factories.make_demo_motif(user=user, seed=i, title=f"Cliff {i}") for i in range(3)]
    page.add_init_script(RECORD_POINTS)
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))

    page.goto(f"{asgi_server}/motifs/")
    page.click("nav >> text=Training")
    for motif in motifs:
        page.check(f"input[name=motifs][value='{motif.pk}']")
    for name, value in {
        "size": "16",
        "steps": "16",
        "batch": "2",
        "sample_every": "4",
        "widths": "16,16",
    }.items():
        page.fill(f"input[name={name}]", value)
    page.click("#start-training")

    page.wait_for_url(f"{asgi_server}/restoration/training/*/")
    run = TrainingRun.objects.get()
    assert run.options["steps"] == 16 and set(run.motifs.all()) == set(motifs)

    # The page reloads when the run ends and then names the registered checkpoint.
    page.wait_for_selector(
        "#training-result:not([hidden]), #training-error:not([hidden])", timeout=120_000
    )
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.status, run.error)
    assert run.checkpoint.name in page.locator("#training-result").inner_text()
    assert any(url.endswith(f"/ws/restoration/training/{run.pk}/") for url in sockets)

    # While it ran, one page load showed the curve growing point by point.
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('points') || '[]')")
    by_load: dict[str, list[int]] = {}
    for entry in seen:
        by_load.setdefault(entry["load"], []).append(entry["points"])
    live = max(by_load.values(), key=lambda values: len(set(values)), default=[])
    assert len(set(live)) >= 3, f"the loss curve did not grow live: {seen}"
    assert live == sorted(live)
    # The finished page draws the whole curve and shows the last samples.
    assert page.locator("#training-live").get_attribute("data-points") == "16"
    page.wait_for_function("() => document.querySelector('#training-sample').naturalWidth > 0")
    assert page.locator("#loss-line").get_attribute("points").count(",") == 16


def test_curator_trains_a_style_engine_and_watches_each_loss_and_the_samples(
    signed_in, asgi_server, settings, tmp_path
):
    page, user = signed_in
    settings.TRAINING_DIR = tmp_path / "training"
    photos = [
        factories.make_motif(
            user=user, width=64, height=48, seed=70 + i, title=f"Photo {i}", kind="photograph"
        )
        for i in range(2)
    ]
    paintings = [
        factories.make_demo_motif(user=user, seed=i, title=f"Scroll {i}") for i in range(2)
    ]
    page.add_init_script(RECORD_POINTS)

    page.goto(f"{asgi_server}/restoration/training/")
    assert page.locator("#domain-b").is_hidden()
    page.select_option("[name=engine]", "cyclegan")
    assert page.locator("#domain-b").is_visible()
    assert page.locator("input[name=batch]").input_value() == "1"
    for motif in photos:
        page.check(f"input[name=motifs][value='{motif.pk}']")
    for motif in paintings:
        page.check(f"input[name=domain_b][value='{motif.pk}']")
    for name, value in {
        "size": "32",
        "steps": "12",
        "sample_every": "4",
        "ngf": "8",
        "n_blocks": "1",
    }.items():
        page.fill(f"input[name={name}]", value)
    page.click("#start-training")

    page.wait_for_url(f"{asgi_server}/restoration/training/*/")
    run = TrainingRun.objects.get()
    assert run.engine == "cyclegan" and run.options["domain_b"] == sorted(m.pk for m in paintings)
    page.wait_for_selector(
        "#training-result:not([hidden]), #training-error:not([hidden])", timeout=120_000
    )
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.status, run.error)
    assert "style transfers" in page.locator("#training-result").inner_text()

    seen = page.evaluate("JSON.parse(sessionStorage.getItem('points') || '[]')")
    assert len({entry["points"] for entry in seen}) >= 3, f"no live curve: {seen}"
    # One curve per loss, named in a legend; the last sample grid is shown.
    curves = page.locator("#loss-series polyline")
    names = {curves.nth(i).get_attribute("data-loss") for i in range(curves.count())}
    assert len(names) >= 4 and names == set(run.losses[-1][1])
    assert all(
        curves.nth(i).get_attribute("points").count(",") == 12 for i in range(curves.count())
    )
    assert page.locator("#loss-legend text").count() == len(names)
    page.wait_for_function("() => document.querySelector('#training-sample').naturalWidth > 0")
    assert "translated back" in page.locator("#training-sample-caption").inner_text()
