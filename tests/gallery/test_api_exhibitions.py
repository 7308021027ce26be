"""Exhibitions API: what visitors, experts, curators and scripts read of exhibitions."""

import json

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from gallery.results import work_file_url
from gallery.services import exhibitions as services
from tests import factories

pytestmark = pytest.mark.usefixtures("media")

ENGINE_NAMES = ("telea", "navier", "exemplar", "lama", "engine")
LIST_URL = reverse("gallery_api:exhibitions")


def detail_url(slug: str) -> str:
    return reverse("gallery_api:exhibition", args=[slug])


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def assert_blind(response, restorations) -> None:
    """No engine, job or restoration id, nor the full-resolution file's own path."""
    text = response.content.decode().lower()
    for name in ENGINE_NAMES:
        assert name not in text, name
    for restoration in restorations:
        assert restoration.image.url.lower() not in text
    keys = json.dumps(list(_keys(response.json())))
    assert "restoration" not in keys and "job" not in keys and '"id"' not in keys


def _keys(data):
    if isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from _keys(value)
    elif isinstance(data, list):
        for value in data:
            yield from _keys(value)


def test_exhibition_list_shows_published_exhibitions_to_anonymous(
    api, published, draft, restorations
):
    response = api.get(LIST_URL)

    assert response.status_code == 200
    (row,) = response.json()
    assert row["slug"] == "painted-caves" and row["title"] == "Painted caves"
    assert row["summary"] == "Two walls, one restored."
    assert row["works"] == 2 and row["published_at"]
    assert row["cover"] == work_file_url(published.entries.get(position=1), "after")
    assert row["cover_alt"] == "Demo motif 1, digitally restored"
    assert row["url"] == published.get_absolute_url()
    assert api.get(row["cover"]).status_code == 200
    assert_blind(response, restorations)


@pytest.fixture
def by_era(curator):
    """Tang figures at Mogao, Song landscapes at Yulin, and both."""
    tang = factories.make_motif(
        user=curator, site_name="Mogao", seed=10, title="Tang figure", era="Tang", style="Figure"
    )
    song = factories.make_motif(
        user=curator,
        site_name="Yulin",
        seed=11,
        title="Song landscape",
        era="Song",
        style="Landscape",
    )
    for title, motifs in (("Alpha", [tang]), ("Beta", [song]), ("Gamma", [tang, song])):
        exhibition = services.exhibition_create(created_by=curator, title=title)
        for motif in motifs:
            services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=motif)
        services.exhibition_publish(exhibition=exhibition, user=curator)
    return {"tang": tang, "song": song}


def _titles(api, **params) -> set[str]:
    response = api.get(LIST_URL, params)
    assert response.status_code == 200
    return {row["title"] for row in response.json()}


def test_exhibition_list_filters_by_site_era_and_style_like_the_page(api, by_era):
    assert _titles(api) == {"Alpha", "Beta", "Gamma"}
    assert _titles(api, era="Tang") == {"Alpha", "Gamma"}
    assert _titles(api, style="Landscape") == {"Beta", "Gamma"}
    assert _titles(api, site=by_era["song"].site_id) == {"Beta", "Gamma"}
    assert _titles(api, era="Tang", style="Landscape") == set()
    # Blank means "all", as the page's form sends it; an unknown value matches nothing.
    assert _titles(api, site="", era="", style="") == {"Alpha", "Beta", "Gamma"}
    assert _titles(api, era="Ming") == set()


def test_exhibition_list_refuses_a_malformed_site_id(api, by_era):
    response = api.get(LIST_URL, {"site": "nonsense"})

    assert response.status_code == 400
    assert response.json() == {"site": ["A site is given by its numeric id."]}


def test_exhibition_detail_gives_works_with_their_images_and_no_engine(
    api, published, restorations
):
    response = api.get(detail_url(published.slug))

    assert response.status_code == 200
    data = response.json()
    assert data["title"] == "Painted caves" and data["status"] == "published"
    assert (
        data["text"] == "First paragraph.\n\nSecond paragraph."
        and data["licence"] == "CC BY-NC 4.0"
    )
    assert data["credits"] == "Photographs: the cave academy" and data["published_at"]
    restored, photographed = data["works"]
    first = restorations[0]
    assert restored["position"] == 1 and restored["title"] == "Demo motif 1"
    assert restored["site"] == "Huashan test cliff" and restored["caption"] == "The west wall"
    assert restored["shown"] == "digitally restored"
    entry = published.entries.get(position=1)
    assert entry.restoration == first
    assert restored["images"] == {
        "preview": work_file_url(entry, "after"),
        "before": work_file_url(entry, "before"),
        "after": work_file_url(entry, "after"),
        "outline": work_file_url(entry, "outline"),
        "thumbnail": work_file_url(entry, "thumbnail"),
    }
    for url in restored["images"].values():
        assert api.get(url).status_code == 200
    assert restored["page"] == reverse("gallery:exhibition_work", args=[published.slug, 1])
    full = restored["full_resolution"]
    assert full["restored"] == reverse(
        "gallery:exhibition_work_full", args=[published.slug, 1, "restored"]
    )
    assert api.get(full["restored"]).status_code == 200
    assert api.get(full["photograph"]).status_code == 200

    entry = published.entries.get(position=2)
    assert photographed["shown"] == "as photographed"
    assert photographed["images"] == {
        "preview": work_file_url(entry, "preview"),
        "before": None,
        "after": None,
        "outline": None,
        "thumbnail": work_file_url(entry, "thumbnail"),
    }
    assert photographed["full_resolution"]["restored"] is None
    assert_blind(response, restorations)


@pytest.mark.parametrize("who", [None, "expert", "plain_user"])
def test_draft_exhibitions_are_not_found_except_by_curators(request, api, draft, who):
    if who:
        api.force_authenticate(request.getfixturevalue(who))

    assert api.get(detail_url(draft.slug)).status_code == 404
    assert api.get(LIST_URL).json() == []


def test_curators_preview_a_draft_by_session_or_token(api, draft, curator):
    api.force_login(curator)
    assert api.get(detail_url(draft.slug)).json()["status"] == "draft"

    script = APIClient()
    token = Token.objects.create(user=curator)
    response = script.get(detail_url(draft.slug), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and response.json()["title"] == "Secret draft"
    assert response.json()["published_at"] is None


def test_unknown_exhibition_is_not_found(api, published):
    response = api.get(detail_url("no-such-show"))

    assert response.status_code == 404
    assert "detail" in response.json()


def test_anonymous_reads_are_throttled(api, published, curator, monkeypatch):
    # The rate is read once when DRF loads its settings; the class attribute is what counts.
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/m"})

    statuses = [api.get(LIST_URL).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert api.get(detail_url(published.slug)).status_code == 429
    api.force_login(curator)
    assert api.get(LIST_URL).status_code == 200
