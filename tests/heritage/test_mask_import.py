"""Mask import: the page (a redirect with a message, whoever asks) and scripts (the API's status
codes and messages), note length, camera MPO files."""

import io
import re

import cv2
import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from heritage import imaging, services
from heritage.models import NOTES_MAX_LENGTH, DamageAnnotation, Motif
from tests import factories

pytestmark = pytest.mark.usefixtures("media")

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def motif(curator):
    return factories.make_motif(user=curator, title="Flying apsaras", seed=300)


def _mask_file(motif: Motif, **kwargs) -> SimpleUploadedFile:
    mask = factories.block_mask(motif, **kwargs)
    return SimpleUploadedFile("mask.png", factories.mask_png_bytes(mask), "image/png")


def _import(client, motif: Motif, *, mask=None, url=None, **extra):
    fields = {"mask": mask if mask is not None else _mask_file(motif)}
    fields.update({key: value for key, value in extra.items() if not key.startswith("HTTP_")})
    headers = {key: value for key, value in extra.items() if key.startswith("HTTP_")}
    return client.post(
        url or reverse("heritage:annotation_import", args=[motif.pk]), fields, **headers
    )


def _api_import(client, motif: Motif, **extra):
    """The same import by a script: the API's POST /api/v1/motifs/<id>/annotations/."""
    return _import(client, motif, url=reverse("heritage_api:annotations", args=[motif.pk]), **extra)


def test_a_script_gets_201_with_the_new_annotation(curator_client, motif):
    response = _api_import(curator_client, motif, kinds=["crack"])

    assert response.status_code == 201
    body = response.json()
    annotation = DamageAnnotation.objects.get()
    assert body["id"] == annotation.pk and annotation.method == "imported"
    assert body["mask"] == reverse("heritage_api:annotation_mask", args=[annotation.pk])


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl without -H, Python scripts
        {"HTTP_ACCEPT": "*/*"},
        {"HTTP_ACCEPT": "application/json"},
        {"HTTP_ACCEPT": BROWSER, "HTTP_X_REQUESTED_WITH": "XMLHttpRequest"},
    ],
)
def test_a_refused_import_is_a_400_with_the_reason_for_scripts(curator_client, motif, headers):
    wrong_size = np.full((motif.height, motif.width + 1), 255, np.uint8)

    def mask():
        return SimpleUploadedFile("mask.png", factories.mask_png_bytes(wrong_size), "image/png")

    response = _api_import(curator_client, motif, mask=mask(), **headers)

    assert response.status_code == 400
    (error,) = response.json()["mask"]
    assert f"{motif.width + 1}x{motif.height}" in error
    # The page answers every client alike: back to the motif, the reason in a message.
    page = _import(curator_client, motif, mask=mask(), **headers)
    assert page.status_code == 302 and page["Location"] == motif.get_absolute_url()
    assert not DamageAnnotation.objects.exists()


def test_a_browser_still_goes_back_to_the_motif_with_a_message(curator_client, motif):
    response = _import(
        curator_client, motif, mask=SimpleUploadedFile("x.png", b"not a png"), HTTP_ACCEPT=BROWSER
    )

    assert response.status_code == 302 and response["Location"] == motif.get_absolute_url()
    page = curator_client.get(response["Location"]).content.decode()
    assert "The mask was not imported" in page


def test_a_missing_file_is_a_400_naming_the_field(curator_client, motif):
    response = curator_client.post(
        reverse("heritage_api:annotations", args=[motif.pk]), {"notes": "no file"}
    )
    assert response.status_code == 400
    assert response.json() == {"mask": ["This field is required."]}


# Notes: a condition note, not a document


def test_notes_over_the_limit_are_refused_everywhere_with_a_message(curator_client, curator, motif):
    huge = "x" * 5_000_000
    by_script = _api_import(curator_client, motif, notes=huge)
    by_browser = _import(curator_client, motif, notes=huge, HTTP_ACCEPT=BROWSER)
    by_editor = curator_client.post(
        reverse("heritage:annotation_save", args=[motif.pk]),
        {"mask": _mask_file(motif), "method": "drawn", "notes": "y" * (NOTES_MAX_LENGTH + 1)},
    )

    assert by_script.status_code == 400
    assert f"at most {NOTES_MAX_LENGTH:,} characters" in by_script.json()["notes"][0]
    assert by_browser.status_code == 302
    assert "at most 2,000 characters" in curator_client.get(by_browser["Location"]).content.decode()
    assert by_editor.status_code == 400
    assert "at most 2,000 characters (these have 2001)" in by_editor.json()["error"]
    with pytest.raises(ValidationError, match="at most 2,000 characters"):
        services.annotation_create(
            motif=motif,
            author=curator,
            mask=factories.block_mask(motif),
            method="drawn",
            notes="z" * (NOTES_MAX_LENGTH + 1),
        )
    assert not DamageAnnotation.objects.exists()


def test_notes_at_the_limit_are_kept_whole(curator_client, motif):
    notes = "n" * NOTES_MAX_LENGTH
    assert _api_import(curator_client, motif, notes=notes).status_code == 201
    assert DamageAnnotation.objects.get().notes == notes


# Multi-Picture (MPO) JPEGs from cameras: the first frame is the photograph


def _mpo_bytes() -> bytes:
    first = Image.fromarray(
        np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8), "RGB"
    )
    second = Image.new("RGB", (64, 48), (10, 200, 10))  # a preview or the other eye's view
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second], quality=95)
    return buffer.getvalue()


def test_an_mpo_file_is_read_as_its_first_frame():
    data = _mpo_bytes()
    assert Image.open(io.BytesIO(data)).format == "MPO"

    inspected = imaging.inspect(io.BytesIO(data), max_pixels=10_000_000)

    assert inspected.format == "JPEG" and (inspected.width, inspected.height) == (64, 48)
    first = Image.open(io.BytesIO(data))
    first.seek(0)
    assert np.array_equal(np.asarray(inspected.rgb), np.asarray(first.convert("RGB")))


def test_a_curator_uploads_an_mpo_photograph(curator_client):
    data = _mpo_bytes()
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {
            "image": SimpleUploadedFile("IMG_0001.MPO", data, "image/jpeg"),
            "title": "Stereo camera photograph",
            "new_site": "Cave 3",
        },
    )

    assert response.status_code == 302, response.content.decode()[:500]
    motif = Motif.objects.get()
    assert (motif.original_format, motif.width, motif.height) == ("JPEG", 64, 48)
    with motif.original.open("rb") as stored:
        assert stored.read() == data, "the original is kept untouched"


def test_an_animated_image_is_still_refused():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(imaging.ImageRejected, match="Animated"):
        imaging.inspect(io.BytesIO(buffer.getvalue()), max_pixels=10_000_000)


# A mask of the motif's proportions but another size (the 512 x 512 masks of 720 x 720 murals)


def _half_size_mask() -> tuple[np.ndarray, SimpleUploadedFile]:
    """A 48 x 32 mask for the 96 x 64 motif below: its proportions, half its size."""
    small = np.zeros((32, 48), np.uint8)
    small[4:20, 10:30] = 255
    return small, SimpleUploadedFile("small.png", factories.mask_png_bytes(small), "image/png")


@pytest.fixture
def wide(curator):
    return factories.make_motif(user=curator, width=96, height=64, seed=301)


def test_the_import_form_offers_the_resize_ticked(curator_client, wide):
    page = curator_client.get(wide.get_absolute_url()).content.decode()
    assert re.search(r'<input type="checkbox" name="resize"[^>]*checked', page)
    assert "Resize a mask of the motif&#x27;s proportions but another size" in page


def test_a_browser_import_resizes_a_mask_of_the_motifs_proportions_and_says_so(
    curator_client, wide
):
    small, upload = _half_size_mask()

    response = _import(curator_client, wide, mask=upload, resize="on", HTTP_ACCEPT=BROWSER)

    assert response.status_code == 302
    page = curator_client.get(response["Location"]).content.decode()
    assert "it was 48 × 32 pixels and was resized to the motif&#x27;s 96 × 64" in page
    annotation = DamageAnnotation.objects.get()
    expected = cv2.resize(small, (96, 64), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(services.annotation_read_mask(annotation=annotation), expected)


def test_a_script_is_offered_the_resize_then_gets_it(curator_client, wide):
    _, upload = _half_size_mask()
    refused = _api_import(curator_client, wide, mask=upload)

    assert refused.status_code == 400
    assert refused.json()["mask"] == [
        "The mask is 48x32 pixels but the motif is 96x64; it has the "
        "motif's proportions, so it can be resized to 96x64 (nearest neighbour, which keeps its "
        "values): send resize=true."
    ]
    assert not DamageAnnotation.objects.exists()

    _, upload = _half_size_mask()
    accepted = _api_import(curator_client, wide, mask=upload, resize="true")

    assert accepted.status_code == 201
    assert accepted.json()["resized_from"] == [48, 32]


def test_a_mask_of_other_proportions_stays_refused_with_both_sizes(curator_client, wide):
    square = SimpleUploadedFile(
        "square.png", factories.mask_png_bytes(np.full((64, 64), 255, np.uint8)), "image/png"
    )

    response = _import(curator_client, wide, mask=square, resize="on", HTTP_ACCEPT=BROWSER)

    page = curator_client.get(response["Location"]).content.decode()
    assert "The mask was not imported: The mask is 64x64 pixels but the motif is 96x64" in page
    assert not DamageAnnotation.objects.exists()


def test_the_editor_opens_a_mask_file_at_the_motifs_size_and_stores_nothing(curator_client, wide):
    small, upload = _half_size_mask()
    url = reverse("heritage:annotation_open", args=[wide.pk])

    response = curator_client.post(url, {"mask": upload})

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Mask-Resized-From"] == "48x32"
    opened = np.asarray(Image.open(io.BytesIO(response.content)))
    assert np.array_equal(opened, cv2.resize(small, (96, 64), interpolation=cv2.INTER_NEAREST))
    assert not DamageAnnotation.objects.exists()
    other = SimpleUploadedFile("o.png", factories.mask_png_bytes(np.zeros((64, 64), np.uint8)))
    refused = curator_client.post(url, {"mask": other})
    assert refused.status_code == 400 and "64x64 pixels" in refused.json()["error"]
    assert curator_client.post(url, {}).json() == {"error": "Choose a mask file to open."}


def test_only_curators_open_mask_files(expert_client, wide):
    _, upload = _half_size_mask()
    url = reverse("heritage:annotation_open", args=[wide.pk])
    assert expert_client.post(url, {"mask": upload}).status_code == 403
