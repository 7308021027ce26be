"""Uploading in the browser: several photographs dropped at once, each with its own result."""

import base64

import pytest
from playwright.sync_api import expect

from heritage.models import Motif
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DROP = """([files]) => {
  const transfer = new DataTransfer();
  for (const [name, type, data] of files) {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type }));
  }
  return transfer;
}"""


def _drop(page, selector: str, files: list[tuple[str, str, bytes]]) -> None:
    encoded = [[name, kind, base64.b64encode(data).decode()] for name, kind, data in files]
    transfer = page.evaluate_handle(DROP, [encoded])
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_a_curator_drops_two_files_one_is_refused_and_the_other_catalogued(signed_in):
    page, user = signed_in
    factories.make_motif(user=user, seed=400, era="Tang dynasty", style="Figure painting")
    page.get_by_role("link", name="Upload").first.click()
    page.wait_for_url("**/motifs/upload/")
    # The era field suggests the spellings in use.
    assert page.get_attribute("#id_era", "list") == "era-suggestions"
    expect(page.locator("#era-suggestions option")).to_have_count(1)
    page.fill("#id_new_site", "Mogao Cave 220")
    page.fill("#id_era", "Tang dynasty")

    zone = page.locator("#drop-zone")
    expect(zone).to_be_visible()
    _drop(
        page,
        "#drop-zone",
        [
            ("north-wall.png", "image/png", factories.png_bytes(48, 32, seed=401)),
            ("field-notes.txt", "text/plain", b"Photographed 2019, raking light.\n" * 5),
        ],
    )

    results = page.locator("#upload-results > li")
    expect(results).to_have_count(2)
    catalogued = results.filter(has_text="north-wall.png")
    refused = results.filter(has_text="field-notes.txt")
    expect(catalogued).to_contain_text("catalogued as north wall", timeout=30_000)
    expect(refused).to_contain_text("refused", timeout=30_000)
    expect(refused).to_contain_text("not an image")

    motif = Motif.objects.get(original_filename="north-wall.png")
    assert (motif.title, motif.era, motif.site.name) == (
        "north wall",
        "Tang dynasty",
        "Mogao Cave 220",
    )
    assert Motif.objects.count() == 2  # the earlier motif and the dropped photograph only

    catalogued.get_by_role("link", name="north wall").click()
    page.wait_for_url(f"**{motif.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text("north wall")


def test_a_refused_form_keeps_the_chosen_file(signed_in, tmp_path):
    page, user = signed_in
    photo = tmp_path / "east-wall.png"
    photo.write_bytes(factories.png_bytes(40, 30, seed=402))
    page.goto(page.url.replace("/motifs/", "/motifs/upload/"))
    page.set_input_files("#id_image", str(photo))
    page.fill("#id_title", "East wall")
    page.get_by_role("button", name="Upload", exact=True).click()

    # No site: refused, and the file stays chosen.
    expect(page.locator(".field.has-error")).to_contain_text("Choose the site")
    expect(page.locator("#kept-file")).to_contain_text("east-wall.png")
    page.fill("#id_new_site", "Mogao Cave 61")
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.locator(".message")).to_contain_text('"East wall" was added to the catalogue')
    assert Motif.objects.get().original_filename == "east-wall.png"


def test_several_files_chosen_at_once_each_get_a_result(signed_in, tmp_path):
    page, user = signed_in
    factories.make_motif(user=user, seed=403, title="Cave ceiling")
    page.goto(page.url.replace("/motifs/", "/motifs/upload/"))
    page.fill("#id_new_site", "Mogao Cave 61")
    page.fill("#id_title", "Lotus ceiling")
    new = tmp_path / "lotus.png"
    new.write_bytes(factories.png_bytes(36, 36, seed=404))
    again = tmp_path / "ceiling-again.png"
    again.write_bytes(factories.png_bytes(64, 48, seed=403))  # the bytes of "Cave ceiling"

    page.set_input_files("#drop-zone-input", [str(new), str(again)])

    results = page.locator("#upload-results > li")
    expect(results.filter(has_text="lotus.png")).to_contain_text("catalogued as Lotus ceiling")
    expect(results.filter(has_text="ceiling-again.png")).to_contain_text(
        'already in the catalogue as "Cave ceiling"'
    )
    assert Motif.objects.filter(title="Lotus ceiling").count() == 1
