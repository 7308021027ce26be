"""Stored files are served only to who may see them, never from a path a visitor can derive.

The demo-like content: a published exhibition (a restored work and a photographed one, both
uploaded as camera JPEGs with EXIF and GPS), a draft exhibition with an unpublished
restoration, two review campaigns for two experts, an open public study. The test walks every
image the public pages and the public API show, checks each loads (an image, no EXIF), then
derives the paths next to it (the original, masks, other sizes and kinds, other ids, the
/media/ files behind them) and checks an anonymous client gets none of them.
"""

import io
import json
import re
from html.parser import HTMLParser
from urllib.parse import quote, unquote, urljoin, urlsplit

import numpy as np
import pytest
from django.core.files.storage import FileSystemStorage
from django.test import Client, override_settings
from django.urls import reverse
from PIL import Image

from gallery.models import STYLE_QUESTION, ExhibitionEntry, ReviewItem, StudyCandidate, StudyTrial
from gallery.services import exhibitions as exhibition_services
from gallery.services import reviews as review_services
from gallery.services import studies as study_services
from heritage import demo, services
from heritage.models import DamageAnnotation, Motif
from restoration.models import Restoration
from tests import factories
from tests.gallery.stylized import make_stylized

pytestmark = pytest.mark.django_db

GPS_LATITUDE = (40.0, 2.0, 30.0)
CAMERA = "Heritage Test Camera"
KINDS = (
    "original",
    "image",
    "working",
    "mask",
    "preview",
    "thumbnail",
    "before",
    "after",
    "input",
    "input_preview",
    "input-preview",
    "outline",
    "result",
    "reference",
    "full",
)
EXTENSIONS = ("jpg", "jpeg", "png", "webp", "tif")
FILE_FIELDS = {
    Motif: ("original", "working", "preview", "thumbnail"),
    DamageAnnotation: ("mask",),
    Restoration: ("image", "preview", "input_preview", "outline"),
}


def camera_jpeg(seed: int, size: int = 64) -> bytes:
    """A textured JPEG as a camera writes it: EXIF with the camera and GPS, and a comment."""
    artwork = demo.rock_art(seed=seed, width=size, height=size, damaged=False)
    exif = Image.Exif()
    exif[0x010F] = CAMERA  # Make
    exif[0x8825] = {1: "N", 2: GPS_LATITUDE, 3: "E", 4: (107.0, 1.0, 2.0)}  # GPS IFD
    buffer = io.BytesIO()
    artwork.image.save(buffer, format="JPEG", quality=95, exif=exif, comment=b"shot at the cave")
    return buffer.getvalue()


def upload(user, seed: int, title: str) -> Motif:
    return services.motif_create(
        uploaded_by=user,
        file=io.BytesIO(camera_jpeg(seed)),
        filename=f"IMG_{seed:04d}.JPG",
        site=services.site_get_or_create(name="Huashan test cliff"),
        title=title,
    )


@pytest.fixture
def other_expert(db):
    return factories.make_user("expert-two", role="expert")


@pytest.fixture
def content(media, curator, expert, other_expert):
    restored, photographed, secret = (
        upload(curator, seed, title)
        for seed, title in ((11, "Restored wall"), (12, "Photographed wall"), (13, "Secret wall"))
    )
    annotations = {
        motif: factories.make_annotation(motif=motif, user=curator)
        for motif in (restored, photographed, secret)
    }
    shown = factories.make_restoration(annotation=annotations[restored], user=curator)
    rival = factories.make_restoration(
        annotation=annotations[restored], user=curator, engine="navier_stokes"
    )
    unpublished = factories.make_restoration(annotation=annotations[secret], user=curator)
    unpublished_rival = factories.make_restoration(
        annotation=annotations[secret], user=curator, engine="navier_stokes"
    )

    exhibition = exhibition_services.exhibition_create(created_by=curator, title="Open caves")
    exhibition_services.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=restored, restoration=shown
    )
    exhibition_services.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=photographed
    )
    # A photograph rendered in a painting style, exhibited; a real painting, never exhibited,
    # but a candidate of an open style study beside it.
    valley, painting = upload(curator, 14, "Stylized valley"), upload(curator, 15, "Real scroll")
    Motif.objects.filter(pk=valley.pk).update(kind=Motif.Kind.PHOTOGRAPH)
    valley.refresh_from_db()
    stylized = make_stylized(motif=valley, user=curator, engine="cyclegan")
    exhibition_services.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=valley, restoration=stylized
    )
    exhibition_services.exhibition_publish(exhibition=exhibition, user=curator)
    draft = exhibition_services.exhibition_create(created_by=curator, title="Hidden caves")
    exhibition_services.exhibition_entry_add(
        exhibition=draft, user=curator, motif=secret, restoration=unpublished
    )

    campaign = review_services.campaign_create(
        created_by=curator,
        title="Blind review",
        reference="damaged",
        restorations=[shown, rival],
        experts=[expert],
        open_now=True,
    )
    other_campaign = review_services.campaign_create(
        created_by=curator,
        title="Other review",
        reference="original",
        restorations=[unpublished, unpublished_rival],
        experts=[other_expert],
        open_now=True,
    )
    study = study_services.study_create(
        created_by=curator,
        title="Which restoration?",
        question="Which image best restores the wall?",
        restorations=[shown, rival],
        open_now=True,
    )
    style_study = study_services.study_create(
        created_by=curator,
        title="Which is blue-green?",
        question=STYLE_QUESTION,
        restorations=[stylized],
        artworks=[painting],
        open_now=True,
    )
    return {
        "exhibition": exhibition,
        "draft": draft,
        "campaign": campaign,
        "other_campaign": other_campaign,
        "study": study,
        "style_study": style_study,
        "painting": painting,
        "motifs": (restored, photographed, secret, valley, painting),
        "unpublished": unpublished,
    }


# Collecting the images of pages and API answers


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: set[str] = set()
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("src"):
            self.images.add(attrs["src"])
        for candidate in (attrs.get("srcset") or "").split(","):
            if candidate.strip():
                self.images.add(candidate.split()[0])
        for url in re.findall(r"url\(['\"]?([^'\")]+)", attrs.get("style") or ""):
            self.images.add(url)
        if tag == "a" and attrs.get("href"):
            self.links.add(attrs["href"])


def _html_images(client: Client, url: str) -> tuple[set[str], set[str], str]:
    response = client.get(url, follow=True)
    assert response.status_code == 200, url
    parser = _Images()
    html = response.content.decode()
    parser.feed(html)
    page = response.redirect_chain[-1][0] if response.redirect_chain else url
    images = {urljoin(page, src) for src in parser.images if not src.startswith("/static/")}
    links = {urljoin(page, href) for href in parser.links}
    return images, links, page


def _json_strings(data):
    if isinstance(data, dict):
        for value in data.values():
            yield from _json_strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _json_strings(value)
    elif isinstance(data, str):
        yield data


def _is_file_url(url: str) -> bool:
    path = urlsplit(url).path
    return bool(
        re.search(r"\.(jpe?g|png|webp|tiff?)$", path)
        or "/full/" in path
        or path.startswith(("/media/", "/files/"))
    )


def _public_images(client: Client, content) -> set[str]:
    """Every image URL the public pages and API answers give an anonymous visitor."""
    exhibition, studies = content["exhibition"], (content["study"], content["style_study"])
    pages = ["/", reverse("gallery:exhibition_list"), exhibition.get_absolute_url()]
    pages += [entry.get_absolute_url() for entry in exhibition.entries.all()]
    for study in studies:
        pages += [study.get_absolute_url(), reverse("gallery:study_vote", args=[study.slug])]
    images: set[str] = set()
    for page in pages:
        found, links, landed = _html_images(client, page)
        images |= found
        images |= {link for link in links if _is_file_url(link)}
        if "/vote/" in landed:
            # Each image set of the study: walk them all by their own addresses.
            study = next(study for study in studies if f"/{study.slug}/" in landed)
            for position in study.trials.values_list("position", flat=True):
                more, _, _ = _html_images(
                    client, reverse("gallery:study_trial", args=[study.slug, position])
                )
                images |= more
    for url in (
        reverse("gallery_api:exhibitions"),
        reverse("gallery_api:exhibition", args=[exhibition.slug]),
        *(reverse("gallery_api:study_next", args=[study.slug]) for study in studies),
    ):
        response = client.get(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, url
        images |= {value for value in _json_strings(response.json()) if _is_file_url(value)}
    return {urlsplit(url).path for url in images}


def _assert_image_without_metadata(response, url: str) -> bytes:
    assert response.status_code == 200, url
    assert response["Content-Type"].startswith("image/"), (url, response["Content-Type"])
    assert response["X-Content-Type-Options"] == "nosniff", url
    data = b"".join(response.streaming_content) if response.streaming else response.content
    image = Image.open(io.BytesIO(data))
    image.load()
    assert not dict(image.getexif()), (url, dict(image.getexif()))
    assert not {"exif", "comment", "xmp"} & set(image.info), (url, image.info.keys())
    assert CAMERA.encode() not in data and b"shot at the cave" not in data, url
    return data


# Deriving what a visitor might try next to an image they were given


def _siblings(path: str, ids: list[int]) -> set[str]:
    head, _, name = path.rpartition("/")
    derived = {f"{head}/{kind}.{ext}" for kind in KINDS for ext in EXTENSIONS}
    derived |= {f"{head}/{kind}/" for kind in KINDS}
    stem, _, ext = name.partition(".")
    for kind in ("-preview", "-input", "-outline", "-mask", "_original", "-full"):
        derived.add(f"{head}/{stem}{kind}.{ext or 'jpg'}")
    # The same kind of file of every other object (other works, drafts, other items).
    for number in set(re.findall(r"/(\d+)/", path)):
        for other in ids:
            derived.add(path.replace(f"/{number}/", f"/{other}/", 1))
    return derived


def _stored_names() -> set[str]:
    names = set()
    for model, fields in FILE_FIELDS.items():
        for row in model.objects.all():
            names |= {getattr(row, field).name for field in fields if getattr(row, field)}
    return names


def _catalogue_file_urls(ids: list[int]) -> set[str]:
    """The protected file routes of every object, by every id (what a visitor could enumerate)."""
    urls = set()
    for pk in ids:
        urls |= {f"/files/motifs/{pk}/{kind}.{ext}" for kind in KINDS for ext in EXTENSIONS[:3]}
        urls |= {
            f"/files/restorations/{pk}/{kind}.{ext}" for kind in KINDS for ext in EXTENSIONS[:3]
        }
    return urls


def _ids() -> list[int]:
    """Every primary key of the stored objects (and the next one): what enumeration would try."""
    ids = set()
    for model in (*FILE_FIELDS, ExhibitionEntry, StudyTrial):
        ids |= set(model.objects.values_list("pk", flat=True))
    return sorted(ids | {max(ids) + 1})


def _refused(response) -> bool:
    return response.status_code in (403, 404)


def test_every_public_image_loads_without_exif_and_nothing_derived_from_it_does(client, content):
    images = _public_images(client, content)
    # Both works, their thumbnails, before/after/outline, the study's candidates and input.
    assert len(images) >= 8, images

    for url in sorted(images):
        _assert_image_without_metadata(client.get(url), url)

    ids = _ids()
    derived = set()
    for url in images:
        derived |= _siblings(url, ids)
    derived |= _catalogue_file_urls(ids)
    for name in _stored_names():
        derived.add(f"/media/{name}")
        derived.add(f"/files/{name}")
    for motif in content["motifs"]:
        sha = motif.sha256
        for ext in EXTENSIONS:
            derived.add(f"/media/motifs/originals/{sha[:2]}/{sha}/original.{ext}")
            derived.add(f"/media/motifs/derived/{sha[:2]}/{sha}/thumbnail.{ext}")
    derived -= images

    served = []
    for url in sorted(derived):
        response = client.get(url)
        if not _refused(response):
            served.append((url, response.status_code))
    assert not served, served

    # Page routes that end in a file answer anonymous visitors with a sign-in, never bytes.
    for pk in ids:
        for url in (f"/motifs/{pk}/original/", f"/damage/{pk}/mask.png"):
            response = client.get(url)
            assert response.status_code in (302, 403, 404), url
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), url


def test_a_real_painting_of_an_open_study_is_seen_only_under_its_candidate_token(
    client, curator, content
):
    painting, study = content["painting"], content["style_study"]
    candidate = StudyCandidate.objects.get(trial__study=study, artwork=painting)
    token_url = reverse("gallery:study_candidate_image", args=[candidate.token])

    data = _assert_image_without_metadata(client.get(token_url), token_url)
    with painting.preview.open("rb") as handle:
        assert data == handle.read()
    assert token_url in _public_images(client, content)
    # No route by the painting's id or its stored name: it is in no published exhibition.
    for url in (
        *(
            reverse("media:motif", args=[painting.pk, kind, "jpg"])
            for kind in ("preview", "thumbnail")
        ),
        reverse("media:motif", args=[painting.pk, "image", "jpg"]),
        reverse("heritage:motif_detail", args=[painting.pk]),
        f"/media/{painting.preview.name}",
        f"/media/{painting.original.name}",
        f"/files/{painting.preview.name}",
    ):
        assert _refused(client.get(url)) or client.get(url).status_code == 302, url
    assert not ExhibitionEntry.objects.filter(motif=painting).exists()

    study_services.study_close(study=study, user=curator)
    assert client.get(token_url).status_code == 404


def test_the_full_resolution_photograph_keeps_its_pixels_and_loses_its_exif(client, content):
    exhibition = content["exhibition"]
    photographed = exhibition.entries.get(position=2)
    url = reverse("gallery:exhibition_work_full", args=[exhibition.slug, 2, "photograph"])
    response = client.get(url)
    sent = Image.open(io.BytesIO(_assert_image_without_metadata(response, url)))
    with photographed.motif.original.open("rb") as original:
        uploaded = Image.open(original)
        assert dict(uploaded.getexif()), "the fixture's original carries EXIF"
        assert np.array_equal(np.asarray(sent), np.asarray(uploaded))


def test_a_curator_fetches_the_original_with_its_exif(client, curator, content):
    motif = content["motifs"][0]
    client.force_login(curator)
    response = client.get(reverse("heritage:motif_original", args=[motif.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"].startswith("private")
    assert response["X-Content-Type-Options"] == "nosniff"
    data = b"".join(response.streaming_content)
    with motif.original.open("rb") as original:
        assert data == original.read()
    assert CAMERA.encode() in data
    # Ids beyond any column are simply not there, for every file route.
    huge = "99999999999999999999"
    for url in (
        f"/files/motifs/{huge}/preview.jpg",
        f"/files/restorations/{huge}/preview.jpg",
        f"/files/works/{huge}/after.jpg",
        f"/motifs/{huge}/original/",
        f"/damage/{huge}/mask.png",
    ):
        assert client.get(url).status_code == 404, url


def test_visitors_and_experts_cannot_fetch_an_unpublished_restoration(
    client, expert, curator, content
):
    restoration = content["unpublished"]
    draft_entry = content["draft"].entries.get()
    urls = [
        reverse("media:restoration", args=[restoration.pk, kind, ext])
        for kind, ext in (("preview", "jpg"), ("input", "jpg"), ("image", "png"))
    ]
    urls += [
        reverse("media:work", args=[draft_entry.pk, kind, ext])
        for kind, ext in (("after", "jpg"), ("before", "jpg"), ("thumbnail", "jpg"))
    ]
    urls.append(
        reverse("gallery:exhibition_work_full", args=[content["draft"].slug, 1, "restored"])
    )
    for who in (None, expert):
        if who:
            client.force_login(who)
        for url in urls:
            assert _refused(client.get(url)), (who, url)
    client.force_login(curator)
    for url in urls:
        assert client.get(url).status_code == 200, url


def _review_images(client: Client, campaign) -> set[str]:
    images = set()
    for item in ReviewItem.objects.filter(campaign=campaign):
        found, _, _ = _html_images(
            client, reverse("gallery:review_item", args=[campaign.pk, item.token])
        )
        images |= {urlsplit(url).path for url in found}
    return images


def test_an_expert_fetches_only_what_their_campaign_shows_and_blind(
    client, expert, other_expert, curator, content
):
    client.force_login(expert)
    own = _review_images(client, content["campaign"])
    assert len(own) >= 4, own
    for url in own:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"].startswith("private"), url
        # Blind: the URL names no engine and no job or restoration.
        assert not re.search(r"telea|navier|restoration|job|/\d+/", url), url

    client.force_login(other_expert)
    others = _review_images(client, content["other_campaign"])
    assert others
    client.force_login(expert)
    for url in others:
        assert _refused(client.get(url)), url
    for restoration in Restoration.objects.all():
        url = reverse("media:restoration", args=[restoration.pk, "preview", "jpg"])
        assert _refused(client.get(url)), url
    client.logout()
    for url in own | others:
        assert _refused(client.get(url)), url

    # Once the campaign is closed, its expert sees nothing more of it; curators still do.
    review_services.campaign_close(campaign=content["campaign"], user=curator)
    client.force_login(expert)
    for url in own:
        assert _refused(client.get(url)), url
    client.force_login(curator)
    for url in own:
        assert client.get(url).status_code == 200, url


# Serving through a proxy or object storage


@pytest.fixture
def original_url(content):
    return reverse("heritage:motif_original", args=[content["motifs"][0].pk])


def test_nginx_mode_hands_the_file_to_an_internal_location(
    client, curator, content, original_url, settings
):
    settings.HERITAGE_MEDIA_ACCEL = "nginx"
    settings.HERITAGE_MEDIA_ACCEL_PREFIX = "/protected-media/"
    client.force_login(curator)
    response = client.get(original_url)
    motif = content["motifs"][0]
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{motif.original.name}"
    assert response.content == b""
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("private")
    assert response["X-Content-Type-Options"] == "nosniff"
    # Anonymous visitors get no header pointing the proxy at anything.
    client.logout()
    assert "X-Accel-Redirect" not in client.get(original_url)


def test_apache_mode_answers_x_sendfile(client, curator, content, original_url, settings):
    settings.HERITAGE_MEDIA_ACCEL = "apache"
    client.force_login(curator)
    response = client.get(original_url)
    assert response["X-Sendfile"] == content["motifs"][0].original.path
    assert response.content == b""


class SigningStorage(FileSystemStorage):
    """Object storage as the views see it: no local path, and URLs signed to expire."""

    def path(self, name):
        raise NotImplementedError("object storage has no local paths")

    def url(self, name, parameters=None, expire=None, http_method=None):
        query = json.dumps({"expire": expire, **(parameters or {})}, sort_keys=True)
        return f"https://bucket.invalid/{name}?signed={quote(query)}"


def test_object_storage_redirects_to_a_signed_expiring_url(
    client, curator, content, original_url, settings, media
):
    settings.HERITAGE_MEDIA_URL_EXPIRE = 120
    backend = f"{__name__}.SigningStorage"
    stores = {**settings.STORAGES, "default": {"BACKEND": backend, "OPTIONS": {"location": media}}}
    client.force_login(curator)
    with override_settings(STORAGES=stores):
        response = client.get(original_url)
        assert response.status_code == 302
        url = response["Location"]
        name = content["motifs"][0].original.name
        assert url.startswith(f"https://bucket.invalid/{name}?signed=")
        signed = json.loads(unquote(url.partition("?signed=")[2]))
        assert signed["expire"] == 120
        assert signed["ResponseContentType"] == "image/jpeg"
        assert signed["ResponseContentDisposition"].startswith("attachment;")
        assert response["Cache-Control"] == "private, no-store"
        client.logout()
        assert client.get(original_url).status_code == 302  # to sign in, not to the bucket
        assert "bucket" not in client.get(original_url)["Location"]
