"""Catalogue pages as visitors, experts and curators use them."""

import io
import json
import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from heritage import masks, services
from heritage.models import DamageAnnotation, Motif, Site
from tests import factories

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def motif(curator):
    return factories.make_motif(user=curator, title="Flying apsaras", seed=100)


def _upload_file(data: bytes, name: str = "wall.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def _metadata(**overrides) -> dict:
    data = {
        "title": "Hunting scene on the west wall",
        "site": "",
        "new_site": "Mogao Cave 249",
        "location": "West wall, lower register",
        "era": "Western Wei",
        "style": "Figure painting",
        "medium": "Mineral pigments on clay plaster",
        "description": "Riders chasing deer below a mountain range.",
        "credit": "Photograph by the Dunhuang Academy",
        "licence": "CC BY-NC 4.0",
    }
    data.update(overrides)
    return data


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)))


def _attempts(motif: Motif) -> dict:
    """What a visitor or expert would post to each endpoint to change the catalogue."""
    return {
        reverse("heritage:motif_upload"): {
            **_metadata(),
            "image": _upload_file(factories.png_bytes(seed=101)),
        },
        reverse("heritage:motif_edit", args=[motif.pk]): _metadata(title="Renamed"),
        reverse("heritage:annotation_save", args=[motif.pk]): {
            "mask": _upload_file(_png(factories.block_mask(motif)), "mask.png"),
            "method": "drawn",
        },
        reverse("heritage:annotation_import", args=[motif.pk]): {
            "mask": _upload_file(_png(factories.block_mask(motif)), "mask.png"),
        },
        reverse("heritage:annotation_simulate", args=[motif.pk]): {
            "protocol": "dust",
            "seed": "1",
        },
        reverse("heritage:annotation_segment", args=[motif.pk]): {},
    }


def _assert_catalogue_unchanged(motif: Motif) -> None:
    assert Motif.objects.count() == 1
    motif.refresh_from_db()
    assert motif.title == "Flying apsaras"
    assert DamageAnnotation.objects.count() == 0


# Who may do what


def test_catalogue_sends_anonymous_visitors_to_sign_in(client, motif):
    for url in (
        reverse("heritage:motif_list"),
        motif.get_absolute_url(),
        reverse("heritage:motif_original", args=[motif.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        assert "next=" in response["Location"]


def test_anonymous_visitor_cannot_upload_or_annotate(client, motif):
    for url, data in _attempts(motif).items():
        response = client.post(url, data)
        assert response.status_code in (302, 403), url
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("login")), url
    _assert_catalogue_unchanged(motif)


def test_expert_can_browse_the_catalogue(expert_client, motif):
    listing = expert_client.get(reverse("heritage:motif_list"))
    assert listing.status_code == 200
    assert "Flying apsaras" in listing.content.decode()

    detail = expert_client.get(motif.get_absolute_url())
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "Flying apsaras" in page
    assert "Import a mask" not in page
    assert reverse("heritage:annotation_new", args=[motif.pk]) not in page


def test_expert_gets_403_on_upload_and_annotation_endpoints(expert_client, motif):
    for url in (
        reverse("heritage:motif_upload"),
        reverse("heritage:motif_edit", args=[motif.pk]),
        reverse("heritage:annotation_new", args=[motif.pk]),
    ):
        assert expert_client.get(url).status_code == 403, url
    for url, data in _attempts(motif).items():
        assert expert_client.post(url, data).status_code == 403, url
    _assert_catalogue_unchanged(motif)


def test_signed_in_user_without_a_role_cannot_browse_the_catalogue(client, plain_user, motif):
    client.force_login(plain_user)
    assert client.get(reverse("heritage:motif_list")).status_code == 403
    assert client.get(motif.get_absolute_url()).status_code == 403


# Upload


def test_curator_uploads_a_motif_and_sees_its_metadata(curator_client, media):
    data = factories.jpeg_bytes(80, 60, seed=102)
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {**_metadata(), "image": _upload_file(data, "hunting.jpg", "image/jpeg")},
    )

    motif = Motif.objects.get()
    assert response.status_code == 302
    assert response["Location"] == motif.get_absolute_url()
    with motif.original.open("rb") as handle:
        assert handle.read() == data

    page = curator_client.get(response["Location"]).content.decode()
    for value in _metadata(site="").values():
        if value:
            assert value in page, value
    assert "80 × 60" in page
    assert "was added to the catalogue" in page


def test_curator_uploads_to_an_existing_site(curator_client, curator):
    site = Site.objects.create(name="Huashan cliff section 1")
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {
            **_metadata(site=str(site.pk), new_site=""),
            "image": _upload_file(factories.png_bytes(seed=103)),
        },
    )
    assert response.status_code == 302
    assert Motif.objects.get().site == site


def test_curator_names_a_new_site_in_the_upload_form(curator_client):
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {
            **_metadata(new_site="  Huashan   cliff section 2 "),
            "image": _upload_file(factories.png_bytes(seed=104)),
        },
    )
    assert response.status_code == 302
    assert Motif.objects.get().site == Site.objects.get(name="Huashan cliff section 2")


def test_upload_without_a_site_is_refused(curator_client, curator, media):
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {**_metadata(new_site=""), "image": _upload_file(factories.png_bytes(seed=105))},
    )
    assert response.status_code == 400
    assert "Choose the site" in response.content.decode()
    assert Motif.objects.count() == 0
    # The accepted file waits in its uploader's holding area for the next try, nowhere else.
    held = factories.files_under(media)
    assert len(held) == 1 and held[0].startswith(f"held/{curator.pk}/")


def test_duplicate_upload_answers_400_with_a_link_to_the_existing_motif(
    curator_client, motif, media
):
    with motif.original.open("rb") as handle:
        data = handle.read()
    files_before = factories.files_under(media)

    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {**_metadata(title="Same photo again"), "image": _upload_file(data, "copy.png")},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert f'href="{motif.get_absolute_url()}"' in page
    assert "already" in page
    assert Motif.objects.count() == 1
    assert factories.files_under(media) == files_before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"West wall, lower register, photographed 2019\n" * 8, "not an image"),
        (factories.png_bytes(64, 48)[:300], "truncated"),
    ],
    ids=["not-an-image", "truncated"],
)
def test_bad_image_upload_answers_400_with_the_message_and_stores_nothing(
    curator_client, media, data, message
):
    response = curator_client.post(
        reverse("heritage:motif_upload"), {**_metadata(), "image": _upload_file(data)}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Motif.objects.count() == 0
    assert factories.files_under(media) == []


def test_refused_upload_leaves_no_new_site_behind(curator_client, media):
    # "Bad input changes nothing": the site named in a refused upload must not appear in the
    # site list of the next upload form.
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {**_metadata(new_site="Yulin Cave 25"), "image": _upload_file(b"not a photograph")},
    )
    assert response.status_code == 400
    assert not Site.objects.filter(name="Yulin Cave 25").exists()
    assert (
        "Yulin Cave 25" not in curator_client.get(reverse("heritage:motif_upload")).content.decode()
    )


def test_upload_over_the_pixel_limit_answers_400(curator_client, media, settings):
    settings.HERITAGE_MAX_IMAGE_PIXELS = 2_000
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {**_metadata(), "image": _upload_file(factories.png_bytes(64, 48, seed=106))},
    )
    assert response.status_code == 400
    assert "HERITAGE_MAX_IMAGE_PIXELS" in response.content.decode()
    assert Motif.objects.count() == 0
    assert factories.files_under(media) == []


# List and download


@pytest.fixture
def catalogue(curator):
    specs = [
        ("Blue-green landscape with deer", "Mogao Cave 285", "Western Wei", "QingLvShanShui"),
        ("Hunting riders", "Mogao Cave 285", "Tang", "Figure painting"),
        ("Dancing figures", "Huashan", "Warring States", "Rock art"),
        ("Blue bodhisattva", "Kizil Cave 38", "Tang", "QingLvShanShui"),
    ]
    for seed, (title, site, era, style) in enumerate(specs, start=200):
        factories.make_motif(
            user=curator, title=title, site_name=site, era=era, style=style, seed=seed
        )
    return [title for title, *_ in specs]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {},
            {
                "Blue-green landscape with deer",
                "Hunting riders",
                "Dancing figures",
                "Blue bodhisattva",
            },
        ),
        ({"site": "Mogao Cave 285"}, {"Blue-green landscape with deer", "Hunting riders"}),
        ({"era": "Tang"}, {"Hunting riders", "Blue bodhisattva"}),
        ({"style": "QingLvShanShui"}, {"Blue-green landscape with deer", "Blue bodhisattva"}),
        ({"q": "blue DEER"}, {"Blue-green landscape with deer"}),
        ({"era": "Tang", "style": "QingLvShanShui"}, {"Blue bodhisattva"}),
        ({"q": "nothing like this"}, set()),
    ],
)
def test_motif_list_shows_only_matching_titles(expert_client, catalogue, query, expected):
    if "site" in query:
        query = {**query, "site": Site.objects.get(name=query["site"]).pk}
    response = expert_client.get(reverse("heritage:motif_list"), query)
    assert response.status_code == 200
    page = response.content.decode()
    shown = {title for title in catalogue if f'<span class="title">{title}</span>' in page}
    assert shown == expected
    if not expected:
        assert "No motif matches" in page


def test_original_download_is_an_attachment_with_the_original_bytes(curator, expert_client):
    data = factories.jpeg_bytes(40, 30, seed=300)
    motif = services.motif_create(
        uploaded_by=curator,
        file=io.BytesIO(data),
        filename="cave 285.jpg",
        site=services.site_get_or_create(name="Mogao Cave 285"),
        title="Download me",
    )

    response = expert_client.get(reverse("heritage:motif_original", args=[motif.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "cave 285.jpg" in response["Content-Disposition"]
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == data


# Masks: import, editor save, click-to-segment, simulate, export


def _import(client, motif: Motif, data: bytes, **fields):
    """The motif page's import form, posted as a browser does (it asks for HTML)."""
    return client.post(
        reverse("heritage:annotation_import", args=[motif.pk]),
        {"mask": _upload_file(data, "mask.png"), **fields},
        follow=True,
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )


def test_mask_import_creates_an_imported_annotation(curator_client, motif):
    mask = factories.block_mask(motif, top=10, left=20, size=12)
    response = _import(
        curator_client,
        motif,
        _png(mask),
        kinds=["crack", "flaking"],
        notes="From the 2019 condition survey",
    )

    assert response.redirect_chain[-1][0] == motif.get_absolute_url()
    page = response.content.decode()
    assert "The mask was imported." in page
    annotation = DamageAnnotation.objects.get()
    assert (annotation.method, annotation.kinds) == ("imported", ["crack", "flaking"])
    assert annotation.notes == "From the 2019 condition survey"
    assert np.array_equal(services.annotation_read_mask(annotation=annotation), mask)
    assert "From the 2019 condition survey" in page


def test_mask_import_of_the_wrong_size_shows_the_error_and_creates_nothing(
    curator_client, motif, media
):
    files_before = factories.files_under(media)
    response = _import(curator_client, motif, _png(np.full((48, 65), 255, np.uint8)))

    page = response.content.decode()
    assert response.status_code == 200
    assert "The mask was not imported" in page
    assert "65x48" in page and "64x48" in page
    assert DamageAnnotation.objects.count() == 0
    assert factories.files_under(media) == files_before


def test_mask_import_refuses_a_colour_photograph(curator_client, motif, media):
    files_before = factories.files_under(media)
    response = _import(curator_client, motif, factories.png_bytes(64, 48, seed=400))

    page = response.content.decode()
    assert "The mask was not imported" in page
    assert "photograph" in page
    assert DamageAnnotation.objects.count() == 0
    assert factories.files_under(media) == files_before


def test_mask_import_refuses_an_empty_mask(curator_client, motif):
    response = _import(curator_client, motif, _png(np.zeros((48, 64), np.uint8)))
    assert "marks no damage" in response.content.decode()
    assert DamageAnnotation.objects.count() == 0


def _save(client, motif: Motif, mask: np.ndarray, **fields):
    data = {"mask": _upload_file(_png(mask), "mask.png"), "method": "drawn", **fields}
    return client.post(reverse("heritage:annotation_save", args=[motif.pk]), data)


def test_annotation_save_stores_exactly_the_posted_mask(curator_client, motif):
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[5:20, 8:30] = 255
    mask[30:35, 40:50] = 90  # faded paint: partial strength is kept

    response = _save(curator_client, motif, mask, kinds=["fading", "loss"], notes="upper left")

    assert response.status_code == 201
    body = response.json()
    annotation = DamageAnnotation.objects.get(pk=body["id"])
    assert (annotation.method, annotation.kinds) == ("drawn", ["loss", "fading"])
    assert body["coverage"] == pytest.approx(15 * 22 / (64 * 48))
    assert np.array_equal(services.annotation_read_mask(annotation=annotation), mask)
    exported = curator_client.get(body["maskUrl"])
    assert np.array_equal(_decode(b"".join(exported.streaming_content)), mask)


def test_annotation_save_with_supersedes_makes_a_revision(curator_client, curator, motif):
    first = factories.make_annotation(motif=motif, user=curator)
    response = _save(
        curator_client, motif, factories.block_mask(motif, size=20), supersedes=str(first.pk)
    )

    assert response.status_code == 201
    revision = DamageAnnotation.objects.get(pk=response.json()["id"])
    assert revision.supersedes == first
    again = _save(
        curator_client, motif, factories.block_mask(motif, size=5), supersedes=str(first.pk)
    )
    assert again.status_code == 400
    assert "already revised" in again.json()["error"]


def test_annotation_save_refuses_an_empty_mask_with_a_json_error(curator_client, motif):
    response = _save(curator_client, motif, np.zeros((48, 64), np.uint8))
    assert response.status_code == 400
    assert "no damage" in response.json()["error"]
    assert DamageAnnotation.objects.count() == 0


def test_annotation_save_refuses_a_mask_of_the_wrong_size_with_a_json_error(curator_client, motif):
    response = _save(curator_client, motif, np.full((10, 10), 255, np.uint8))
    assert response.status_code == 400
    assert "10x10" in response.json()["error"]
    assert DamageAnnotation.objects.count() == 0


def test_annotation_segment_returns_the_clicked_patch_as_a_mask(curator_client, curator):
    pixels = np.full((64, 80, 3), (205, 180, 140), dtype=np.uint8)  # ochre plaster
    pixels[16:40, 24:52] = (60, 45, 35)  # a dark stain
    motif = services.motif_create(
        uploaded_by=curator,
        file=io.BytesIO(_png(pixels)),
        filename="stain.png",
        site=services.site_get_or_create(name="Kizil Cave 38"),
        title="Stained wall",
    )

    response = curator_client.post(
        reverse("heritage:annotation_segment", args=[motif.pk]),
        json.dumps({"positive": [[36, 28]]}),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    mask = _decode(response.content)
    assert mask.shape == (64, 80)
    expected = np.zeros((64, 80), dtype=bool)
    expected[16:40, 24:52] = True
    damaged = mask > 127
    assert (damaged & expected).sum() / (damaged | expected).sum() > 0.9
    assert mask[28, 36] == 255
    assert mask[2, 2] == 0


def test_annotation_segment_refuses_a_click_outside_the_motif(curator_client, motif):
    response = curator_client.post(
        reverse("heritage:annotation_segment", args=[motif.pk]),
        json.dumps({"positive": [[500, 10]]}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "outside" in response.json()["error"]


def test_annotation_simulate_form_creates_a_simulated_annotation(curator_client, motif):
    response = curator_client.post(
        reverse("heritage:annotation_simulate", args=[motif.pk]),
        {"protocol": "jelly", "seed": "7"},
        follow=True,
    )

    annotation = DamageAnnotation.objects.get()
    assert (annotation.method, annotation.protocol, annotation.seed) == ("simulated", "jelly", 7)
    expected = masks.simulate("jelly", width=motif.width, height=motif.height, seed=7)
    assert np.array_equal(services.annotation_read_mask(annotation=annotation), expected)
    page = response.content.decode()
    assert "seed 7" in page
    assert "Jelly-like" in page


def test_annotation_simulate_form_refuses_a_negative_seed(curator_client, motif):
    response = curator_client.post(
        reverse("heritage:annotation_simulate", args=[motif.pk]),
        {"protocol": "dust", "seed": "-1"},
        follow=True,
    )
    assert "No damage was simulated" in response.content.decode()
    assert DamageAnnotation.objects.count() == 0


def test_annotation_mask_export_is_a_png_and_an_attachment_on_request(
    expert_client, curator, motif
):
    mask = factories.block_mask(motif, top=3, left=7, size=9)
    annotation = factories.make_annotation(motif=motif, user=curator, mask=mask)
    url = reverse("heritage:annotation_mask", args=[annotation.pk])

    shown = expert_client.get(url)
    assert shown.status_code == 200
    assert shown["Content-Type"] == "image/png"
    assert not shown["Content-Disposition"].startswith("attachment")
    assert np.array_equal(_decode(b"".join(shown.streaming_content)), mask)

    download = expert_client.get(url, {"download": "1"})
    assert download["Content-Disposition"].startswith("attachment;")
    assert (
        f"motif-{motif.pk}-annotation-{annotation.pk}-mask.png" in (download["Content-Disposition"])
    )


def _editor_config(page: str) -> dict:
    found = re.search(
        r'<script id="editor-config" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, "the editor page carries its configuration as JSON"
    return json.loads(found.group(1))


def test_annotation_editor_renders_with_the_motifs_size(curator_client, motif):
    response = curator_client.get(reverse("heritage:annotation_new", args=[motif.pk]))

    assert response.status_code == 200
    config = _editor_config(response.content.decode())
    assert (config["width"], config["height"]) == (motif.width, motif.height) == (64, 48)
    assert config["annotationId"] is None
    assert config["saveUrl"] == reverse("heritage:annotation_save", args=[motif.pk])


def test_annotation_editor_opens_the_latest_revision(curator_client, curator, motif):
    first = factories.make_annotation(motif=motif, user=curator)
    latest = factories.make_annotation(motif=motif, user=curator, supersedes=first)

    response = curator_client.get(
        reverse("heritage:annotation_edit", args=[motif.pk, first.pk]), follow=True
    )

    assert response.redirect_chain[-1][0] == reverse(
        "heritage:annotation_edit", args=[motif.pk, latest.pk]
    )
    assert _editor_config(response.content.decode())["annotationId"] == latest.pk


# Kinds of motif: artworks to restore, photographs to render in a style


def test_curator_uploads_a_photograph_to_stylize(curator_client):
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {
            **_metadata(title="Hills near Dunhuang"),
            "kind": "photograph",
            "image": _upload_file(factories.png_bytes(seed=611)),
        },
    )
    motif = Motif.objects.get()
    assert response.status_code == 302 and motif.kind == "photograph"
    page = curator_client.get(motif.get_absolute_url()).content.decode()
    assert "<dt>Kind</dt>" in page and "Photograph" in page


def test_the_upload_form_offers_both_kinds_and_defaults_to_artwork(curator_client):
    page = curator_client.get(reverse("heritage:motif_upload")).content.decode()
    assert 'name="kind"' in page and 'value="photograph"' in page
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {**_metadata(), "image": _upload_file(factories.png_bytes(seed=612))},
    )
    assert response.status_code == 302 and Motif.objects.get().kind == "artwork"


def test_an_unknown_kind_is_refused_on_upload(curator_client):
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {**_metadata(), "kind": "video", "image": _upload_file(factories.png_bytes(seed=613))},
    )
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()
    assert not Motif.objects.exists()


def test_editing_a_motif_can_change_its_kind_and_keeps_it_when_not_posted(curator_client, motif):
    url = reverse("heritage:motif_edit", args=[motif.pk])
    assert curator_client.post(url, {**_metadata(), "kind": "photograph"}).status_code == 302
    motif.refresh_from_db()
    assert motif.kind == "photograph"
    assert curator_client.post(url, _metadata(title="Renamed")).status_code == 302
    motif.refresh_from_db()
    assert (motif.kind, motif.title) == ("photograph", "Renamed")


def test_the_motif_list_filters_by_kind(expert_client, curator):
    factories.make_motif(user=curator, title="A mural", seed=621)
    factories.make_motif(user=curator, title="A landscape", seed=622, kind="photograph")
    url = reverse("heritage:motif_list")

    def shown(query) -> set[str]:
        page = expert_client.get(url, query).content.decode()
        return {t for t in ("A mural", "A landscape") if f'<span class="title">{t}</span>' in page}

    assert shown({}) == {"A mural", "A landscape"}
    assert shown({"kind": "photograph"}) == {"A landscape"}
    assert shown({"kind": "artwork"}) == {"A mural"}
    assert shown({"kind": "nonsense"}) == {"A mural", "A landscape"}
    assert (
        '<option value="photograph" selected>'
        in expert_client.get(url, {"kind": "photograph"}).content.decode()
    )
