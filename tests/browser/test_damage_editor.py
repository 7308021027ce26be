"""A curator uploads a motif, marks damage with the brush and a polygon, and saves the mask."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from heritage.models import DamageAnnotation, Motif
from heritage.services import annotation_read_mask
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _photo(path, width=480, height=360):
    rng = np.random.default_rng(7)
    base = np.full((height, width, 3), (176, 120, 80), dtype=np.uint8)
    noise = rng.integers(0, 40, size=(height, width, 3), dtype=np.uint8)
    Image.fromarray(base + noise).save(path)
    return path


def _drag(page, points):
    first = page.evaluate("([x, y]) => damageEditor.imageToClient(x, y)", points[0])
    page.mouse.move(first["x"], first["y"])
    page.mouse.down()
    for point in points[1:]:
        target = page.evaluate("([x, y]) => damageEditor.imageToClient(x, y)", point)
        page.mouse.move(target["x"], target["y"], steps=12)
    page.mouse.up()


def _click(page, point):
    target = page.evaluate("([x, y]) => damageEditor.imageToClient(x, y)", point)
    page.mouse.click(target["x"], target["y"])


def test_editor_stores_damage_exactly_where_drawn(signed_in, live_server, tmp_path):
    page, user = signed_in
    page.goto(f"{live_server.url}/motifs/upload/")
    page.set_input_files("#id_image", str(_photo(tmp_path / "panel.png")))
    page.fill("#id_title", "Cave wall with flaking")
    page.fill("#id_new_site", "Test cave 1")
    page.fill("#id_era", "Tang")
    page.click("button[type=submit]")
    page.wait_for_selector("text=was added to the catalogue")
    motif = Motif.objects.get(title="Cave wall with flaking")

    page.click("text=Mark damage")
    page.wait_for_selector("#editor-stage[data-ready=true]")
    page.eval_on_selector(
        "#brush-size", "el => { el.value = 12; el.dispatchEvent(new Event('input')); }"
    )
    _drag(page, [(60, 80), (220, 80), (220, 140)])

    page.click("[data-tool=polygon]")
    polygon = [(300, 200), (420, 210), (400, 320), (310, 300)]
    for corner in polygon:
        _click(page, corner)
    page.keyboard.press("Enter")

    page.check("input[name=kinds][value=flaking]")
    page.click("#save")
    page.wait_for_selector("#editor-status[data-kind=success]")

    annotation = DamageAnnotation.objects.get(motif=motif)
    assert annotation.author == user
    assert annotation.kinds == ["flaking"]
    assert annotation.method == "drawn"
    stored = annotation_read_mask(annotation=annotation)
    assert stored.shape == (360, 480)

    expected = np.zeros((360, 480), np.uint8)
    cv2.polylines(expected, [np.array([(60, 80), (220, 80), (220, 140)])], False, 255, 12)
    cv2.fillPoly(expected, [np.array(polygon)], 255)
    # Anti-aliased canvas edges may differ by a pixel; everything else must match exactly.
    kernel = np.ones((5, 5), np.uint8)
    core = cv2.erode(expected, kernel)
    halo = cv2.dilate(expected, kernel)
    assert (stored[core > 0] == 255).all(), "a drawn pixel was not stored as damaged"
    assert (stored[halo == 0] == 0).all(), "damage was stored where nothing was drawn"
    assert set(np.unique(stored)) == {0, 255}

    # The exported PNG is the stored mask, pixel for pixel.
    response = page.request.get(f"{live_server.url}/damage/{annotation.pk}/mask.png?download=1")
    assert response.ok
    exported = np.asarray(Image.open(io.BytesIO(response.body())))
    assert np.array_equal(exported, stored)


def _in_view(page, selector: str) -> bool:
    """Whether the element lies wholly inside the viewport, the page scrolled to its top."""
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )


@pytest.fixture
def laptop(signed_in):
    """The signed-in page at a common laptop size, 1366 x 900."""
    page, user = signed_in
    page.set_viewport_size({"width": 1366, "height": 900})
    return page, user


def test_at_1366x900_save_and_status_are_in_view_and_the_heading_follows_the_save(
    laptop, live_server
):
    page, user = laptop
    motif = factories.make_motif(user=user, width=720, height=720, seed=5)

    page.goto(f"{live_server.url}/motifs/{motif.pk}/damage/new/")
    page.wait_for_selector("#editor-stage[data-ready=true]")

    assert page.evaluate("window.scrollY") == 0
    for selector in ("#save", "#editor-status", "#editor-stage"):
        assert _in_view(page, selector), f"{selector} is below the fold at 1366 x 900"
    assert page.locator("h1").inner_text().endswith("new damage annotation")

    _drag(page, [(100, 100), (300, 300)])
    page.click("#save")
    page.wait_for_selector("#editor-status[data-kind=success]")

    annotation = DamageAnnotation.objects.get(motif=motif)
    assert _in_view(page, "#editor-status")
    heading = page.locator("h1").inner_text()
    assert heading.endswith(f"revising annotation #{annotation.pk}"), heading
    # A second save revises the first, as the heading now says.
    _drag(page, [(500, 500), (600, 600)])
    page.click("#save")
    page.wait_for_function(
        "document.querySelector('#editor-status').textContent.includes('annotation #')"
        f" && !document.querySelector('#editor-status').textContent.includes('#{annotation.pk} ')"
    )
    revision = DamageAnnotation.objects.exclude(pk=annotation.pk).get(motif=motif)
    assert revision.supersedes_id == annotation.pk
    assert page.locator("h1").inner_text().endswith(f"revising annotation #{revision.pk}")


def test_a_mask_of_the_motifs_proportions_is_opened_resized_and_another_is_refused(
    laptop, live_server, tmp_path
):
    page, user = laptop
    motif = factories.make_motif(user=user, width=720, height=720, seed=6)
    small = np.zeros((512, 512), np.uint8)
    small[100:300, 50:200] = 255
    Image.fromarray(small).save(tmp_path / "mask-512.png")
    Image.fromarray(np.full((300, 500), 255, np.uint8)).save(tmp_path / "mask-500x300.png")

    page.goto(f"{live_server.url}/motifs/{motif.pk}/damage/new/")
    page.wait_for_selector("#editor-stage[data-ready=true]")
    page.set_input_files("#mask-file", str(tmp_path / "mask-500x300.png"))
    page.wait_for_selector("#editor-status[data-kind=error]")
    refused = page.locator("#editor-status").inner_text()
    assert "500x300" in refused and "720x720" in refused, refused
    assert page.evaluate("damageEditor.exportMask().damaged") == 0

    page.set_input_files("#mask-file", str(tmp_path / "mask-512.png"))
    page.wait_for_selector("#editor-status[data-kind=success]")
    opened = page.locator("#editor-status").inner_text()
    assert "512 × 512" in opened and "resized to the motif's 720 × 720" in opened, opened
    page.click("#save")
    page.wait_for_function(
        "document.querySelector('#editor-status').textContent.startsWith('Saved')"
    )

    annotation = DamageAnnotation.objects.get(motif=motif)
    assert annotation.method == "imported"
    expected = cv2.resize(small, (720, 720), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(annotation_read_mask(annotation=annotation), expected)
