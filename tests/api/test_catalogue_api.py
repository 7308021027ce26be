"""Catalogue API: upload (the upload page's messages), list filters, edit, masks, simulation."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image

from heritage import masks
from heritage.models import DamageAnnotation, Motif, Site
from tests import factories

pytestmark = pytest.mark.usefixtures("media")

MOTIFS = "/api/v1/motifs/"


def _upload(client, image: bytes | None, name="mural.png", **fields):
    data = {"title": "Flying apsaras", "new_site": "Mogao Cave 285", **fields}
    if image is not None:
        data["image"] = SimpleUploadedFile(name, image)
    return client.post(MOTIFS, data, format="multipart")


def _page_errors(curator_client, image: bytes | None, name="mural.png", **fields) -> str:
    """The upload page's answer to the same post, as HTML."""
    data = {"title": "Flying apsaras", "new_site": "Mogao Cave 285", **fields}
    if image is not None:
        data["image"] = SimpleUploadedFile(name, image)
    response = curator_client.post(reverse("heritage:motif_upload"), data)
    assert response.status_code == 400
    return response.content.decode()


def _messages(body: dict) -> list[str]:
    return [message for messages in body.values() for message in messages]


def test_upload_stores_the_motif_with_its_metadata(curator_api, curator):
    response = _upload(
        curator_api, factories.png_bytes(80, 60, seed=1), kind="photograph", era="Tang"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    motif = Motif.objects.get(pk=body["id"])
    assert (motif.title, motif.kind, motif.era, motif.site.name) == (
        "Flying apsaras",
        "photograph",
        "Tang",
        "Mogao Cave 285",
    )
    assert (body["width"], body["height"], body["uploaded_by"]) == (80, 60, curator.username)
    assert body["site"] == {"id": motif.site_id, "name": "Mogao Cave 285"}
    # The original comes back byte for byte through the API, never from a storage path.
    original = curator_api.get(body["files"]["original"])
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == factories.png_bytes(80, 60, seed=1)
    assert "attachment" in original["Content-Disposition"]
    assert "/media/" not in response.content.decode()
    assert motif.original.name not in response.content.decode()


@pytest.mark.parametrize(
    ("image", "name", "fields", "field"),
    [
        (b"", "empty.png", {}, "image"),
        (b"this is not an image at all", "notes.png", {}, "image"),
        (factories.png_bytes(seed=2)[:60], "cut.png", {}, "image"),
        (None, "", {}, "image"),
        (factories.png_bytes(seed=3), "ok.png", {"title": "  "}, "title"),
        (factories.png_bytes(seed=4), "ok.png", {"new_site": ""}, "site"),
        (factories.png_bytes(seed=5), "ok.png", {"kind": "sculpture"}, "kind"),
        (factories.png_bytes(seed=6), "ok.png", {"site": "999999", "new_site": ""}, "site"),
    ],
    ids=["empty", "not-an-image", "truncated", "no-file", "blank-title", "no-site", "kind", "site"],
)
def test_a_refused_upload_says_what_the_page_says_and_leaves_nothing(
    curator_api, curator_client, media, image, name, fields, field
):
    response = _upload(curator_api, image, name, **fields)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body, body
    assert factories.files_under(media) == []
    page = _page_errors(curator_client, image, name, **fields)
    for message in _messages(body):
        assert escape(message) in page, (message, field)
    assert not Motif.objects.exists() and not Site.objects.exists()
    # The page (not the API) keeps an accepted file of a refused form for the next try.
    assert [path for path in factories.files_under(media) if not path.startswith("held/")] == []


def test_a_duplicate_upload_names_the_motif_already_there(curator_api, curator_client):
    image = factories.png_bytes(seed=7)
    first = _upload(curator_api, image)
    assert first.status_code == 201
    again = _upload(curator_api, image, title="Another title")
    assert again.status_code == 400
    message = again.json()["image"][0]
    assert f"motif {first.json()['id']}" in message and "already in the catalogue" in message
    assert escape(message) in _page_errors(curator_client, image, title="Another title")
    assert Motif.objects.count() == 1


def test_an_upload_over_the_size_limit_is_refused_with_the_page_message(
    curator_api, curator_client, settings
):
    settings.HERITAGE_MAX_UPLOAD_BYTES = 1000
    image = factories.png_bytes(64, 48, seed=8)
    response = _upload(curator_api, image)
    assert response.status_code == 400
    (message,) = response.json()["image"]
    assert "HERITAGE_MAX_UPLOAD_MB" in message
    assert escape(message) in _page_errors(curator_client, image)


def test_list_filters_and_pages(curator_api, curator):
    cave = factories.make_motif(user=curator, site_name="Cave", seed=1, title="Dancer", era="Tang")
    factories.make_motif(user=curator, site_name="Cliff", seed=2, title="Horse", era="Han")
    photo = factories.make_motif(
        user=curator, site_name="Cliff", seed=3, title="Valley", kind="photograph"
    )

    def titles(**query):
        response = curator_api.get(MOTIFS, query)
        assert response.status_code == 200, response.content
        return [row["title"] for row in response.json()["results"]]

    assert titles() == ["Valley", "Horse", "Dancer"]
    assert titles(site=cave.site_id) == ["Dancer"]
    assert titles(era="Han") == ["Horse"]
    assert titles(kind="photograph") == ["Valley"]
    assert titles(search="hor") == ["Horse"]
    assert titles(site=photo.site_id, kind="artwork") == ["Horse"]
    page = curator_api.get(MOTIFS, {"page_size": 2, "page": 2}).json()
    assert page["count"] == 3 and [row["title"] for row in page["results"]] == ["Dancer"]
    assert curator_api.get(MOTIFS, {"kind": "statue"}).status_code == 400
    assert curator_api.get(MOTIFS, {"site": "abc"}).status_code == 400
    assert curator_api.get(MOTIFS, {"page": 9}).status_code == 404


def test_metadata_edit_keeps_what_is_not_sent_and_refuses_like_the_form(curator_api, curator):
    motif = factories.make_motif(user=curator, era="Tang", style="Blue-green")
    url = f"{MOTIFS}{motif.pk}/"
    response = curator_api.patch(url, {"title": "  Music   players ", "new_site": "Cave 2"})
    assert response.status_code == 200, response.content
    motif.refresh_from_db()
    assert (motif.title, motif.era, motif.style, motif.site.name) == (
        "Music players",
        "Tang",
        "Blue-green",
        "Cave 2",
    )
    refused = curator_api.patch(url, {"kind": "statue"}, format="json")
    assert refused.status_code == 400 and "kind" in refused.json()
    blank = curator_api.patch(url, {"title": ""}, format="json")
    assert blank.status_code == 400 and blank.json()["title"] == ["This field is required."]
    statue = refused.json()["kind"][0]
    assert "statue is not one of the available choices" in statue
    motif.refresh_from_db()
    assert motif.title == "Music players" and motif.kind == "artwork"


def _mask_file(width: int, height: int) -> SimpleUploadedFile:
    mask = np.zeros((height, width), np.uint8)
    mask[: height // 4, : width // 4] = 255
    return SimpleUploadedFile("mask.png", factories.mask_png_bytes(mask))


def test_mask_upload_and_download(curator_api, expert_api, curator):
    motif = factories.make_motif(user=curator, width=64, height=48)
    url = f"{MOTIFS}{motif.pk}/annotations/"
    response = curator_api.post(
        url, {"mask": _mask_file(64, 48), "kinds": ["crack", "loss"], "notes": "north wall"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["method"] == "imported" and body["kinds"] == ["crack", "loss"]
    assert body["coverage"] == pytest.approx(1 / 16) and body["resized_from"] is None
    # Experts read masks too; the PNG is the motif's size, 255 where damaged.
    download = expert_api.get(body["mask"])
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    mask = masks.read_mask(b"".join(download.streaming_content), width=64, height=48)
    assert mask[0, 0] == 255 and mask[-1, -1] == 0
    listed = expert_api.get(url).json()
    assert [row["id"] for row in listed] == [body["id"]]


def test_a_mask_of_the_motifs_proportions_is_resized_only_when_asked(curator_api, curator):
    motif = factories.make_motif(user=curator, width=64, height=48)
    url = f"{MOTIFS}{motif.pk}/annotations/"
    refused = curator_api.post(url, {"mask": _mask_file(32, 24)})
    assert refused.status_code == 400
    (message,) = refused.json()["mask"]
    assert "32" in message and "64" in message and message.endswith("send resize=true.")
    assert not DamageAnnotation.objects.exists()
    resized = curator_api.post(url, {"mask": _mask_file(32, 24), "resize": "true"})
    assert resized.status_code == 201, resized.content
    assert resized.json()["resized_from"] == [32, 24]
    other = curator_api.post(url, {"mask": _mask_file(30, 30), "resize": "true"})
    assert other.status_code == 400 and "resize=true" not in other.json()["mask"][0]
    assert DamageAnnotation.objects.count() == 1


def test_a_photograph_or_empty_mask_is_refused(curator_api, curator):
    motif = factories.make_motif(user=curator, width=64, height=48)
    url = f"{MOTIFS}{motif.pk}/annotations/"
    empty = SimpleUploadedFile("empty.png", factories.mask_png_bytes(np.zeros((48, 64), np.uint8)))
    response = curator_api.post(url, {"mask": empty})
    assert response.status_code == 400
    assert "marks no damage" in response.json()["detail"]
    buffer = io.BytesIO()
    Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8), "RGB"
    ).save(buffer, "PNG")
    photo = curator_api.post(url, {"mask": SimpleUploadedFile("photo.png", buffer.getvalue())})
    assert photo.status_code == 400 and "mask" in photo.json()
    assert not DamageAnnotation.objects.exists()


def test_simulate_damage(curator_api, curator):
    motif = factories.make_motif(user=curator, width=64, height=48)
    url = f"{MOTIFS}{motif.pk}/annotations/simulate/"
    response = curator_api.post(url, {"protocol": "blocks", "seed": 4}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["method"], body["protocol"], body["seed"]) == ("simulated", "blocks", 4)
    bad = curator_api.post(url, {"protocol": "fire", "seed": -1}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"protocol", "seed"}
    assert DamageAnnotation.objects.count() == 1


def test_sites_are_named_once(curator_api, expert_api):
    made = curator_api.post("/api/v1/sites/", {"name": "Huashan", "region": "Guangxi"})
    assert made.status_code == 201
    again = curator_api.post("/api/v1/sites/", {"name": " huashan "})
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    assert [row["name"] for row in expert_api.get("/api/v1/sites/").json()["results"]] == [
        "Huashan"
    ]
    assert expert_api.post("/api/v1/sites/", {"name": "Other"}).status_code == 403
