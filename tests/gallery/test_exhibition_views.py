"""Exhibition pages as visitors, experts and curators see and use them."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from gallery.models import Exhibition, ExhibitionEntry
from gallery.results import work_file_url
from gallery.services import exhibitions as services
from tests import factories

pytestmark = pytest.mark.usefixtures("media")

ENGINE_NAMES = ("telea", "navier", "exemplar")


def _work_url(exhibition: Exhibition, position: int) -> str:
    return reverse("gallery:exhibition_work", args=[exhibition.slug, position])


def _full_url(exhibition: Exhibition, position: int, which: str) -> str:
    return reverse("gallery:exhibition_work_full", args=[exhibition.slug, position, which])


def _public_urls(exhibition: Exhibition) -> list[str]:
    return [
        "/",
        reverse("gallery:exhibition_list"),
        exhibition.get_absolute_url(),
        _work_url(exhibition, 1),
        _work_url(exhibition, 2),
    ]


def _images(html: str) -> list[str]:
    return re.findall(r"<img\b[^>]*>", html)


def test_visitors_see_published_exhibitions_without_signing_in(client, published, draft):
    for url in ("/", reverse("gallery:exhibition_list")):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Painted caves" in html and "Two walls, one restored." in html
        assert published.get_absolute_url() in html
        assert "Secret draft" not in html
        # The cover is the first work's restored preview, described for screen readers.
        assert work_file_url(published.entries.get(position=1), "after") in html
        assert 'alt="Demo motif 1, digitally restored"' in html
    assert "Recently catalogued" not in client.get("/").content.decode()


def test_home_shows_recently_catalogued_motifs_to_curators_and_experts(curator_client, published):
    html = curator_client.get("/").content.decode()
    assert "Recently catalogued" in html
    assert reverse("heritage:motif_detail", args=[published.entries.first().motif_id]) in html


def test_a_draft_is_404_for_visitors_and_experts_and_shown_to_curators(
    client, expert, curator, draft
):
    urls = [draft.get_absolute_url(), _work_url(draft, 1), _full_url(draft, 1, "photograph")]
    for url in urls:
        assert client.get(url).status_code == 404
    client.force_login(expert)
    for url in urls:
        assert client.get(url).status_code == 404
    client.force_login(curator)
    for url in urls:
        assert client.get(url).status_code == 200
    assert "only curators can see it" in client.get(draft.get_absolute_url()).content.decode()


def test_exhibition_detail_shows_texts_and_works_in_order(client, published):
    html = client.get(published.get_absolute_url()).content.decode()
    assert "<p>First paragraph.</p>" in html and "<p>Second paragraph.</p>" in html
    assert "Photographs: the cave academy" in html and "Licence: CC BY-NC 4.0" in html
    assert html.index(_work_url(published, 1)) < html.index(_work_url(published, 2))
    assert 'alt="Demo motif 1, digitally restored"' in html
    assert 'alt="Demo motif 2, as photographed"' in html
    second = published.entries.get(position=2)
    # Phones get the thumbnail, wide screens the preview; never the original.
    assert f"{work_file_url(second, 'thumbnail')} " in html
    assert f"{work_file_url(second, 'preview')} " in html


@pytest.fixture
def by_era(curator):
    """Three published exhibitions: Tang figures at Mogao, Song landscapes at Yulin, and both."""
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
    made = {}
    for title, motifs in (
        ("Alpha show", [tang]),
        ("Beta show", [song]),
        ("Gamma show", [tang, song]),
    ):
        exhibition = services.exhibition_create(created_by=curator, title=title)
        for motif in motifs:
            services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=motif)
        services.exhibition_publish(exhibition=exhibition, user=curator)
        made[title] = exhibition
    return {"tang": tang, "song": song, **made}


def _shown(client, url: str, **params) -> set[str]:
    html = client.get(url, params).content.decode()
    return {title for title in ("Alpha show", "Beta show", "Gamma show") if title in html}


def test_exhibition_list_filters_by_site_era_and_style(client, by_era):
    url = reverse("gallery:exhibition_list")
    assert _shown(client, url) == {"Alpha show", "Beta show", "Gamma show"}
    assert _shown(client, url, era="Tang") == {"Alpha show", "Gamma show"}
    assert _shown(client, url, style="Landscape") == {"Beta show", "Gamma show"}
    assert _shown(client, url, site=by_era["song"].site_id) == {"Beta show", "Gamma show"}
    # One work must match every filter: no single work is a Tang landscape.
    assert _shown(client, url, era="Tang", style="Landscape") == set()


def test_exhibition_list_keeps_an_unknown_filter_value_and_matches_nothing(client, by_era):
    url = reverse("gallery:exhibition_list")
    response = client.get(url, {"era": "Ming", "site": "nonsense"})
    # A site that is not an id is also a malformed request: 400, with the reason on the page.
    assert response.status_code == 400
    html = response.content.decode()
    assert "A site is given by its numeric id" in html
    assert not {"Alpha show", "Beta show", "Gamma show"} & set(re.findall(r"\w+ show", html))
    assert re.search(r'<option value="Ming" selected>', html)
    assert re.search(r'<option value="nonsense" selected>', html)
    assert "No exhibition holds a work" in html


def test_exhibition_detail_filters_its_works(client, by_era):
    url = by_era["Gamma show"].get_absolute_url()
    everything = client.get(url).content.decode()
    assert "Tang figure" in everything and "Song landscape" in everything
    tang_only = client.get(url, {"era": "Tang"}).content.decode()
    assert "Tang figure" in tang_only and "Song landscape" not in tang_only
    assert "1 of 2 works match" in tang_only
    assert re.search(r'<option value="Tang" selected>', tang_only)


@pytest.mark.parametrize("who", [None, "expert"])
def test_work_page_shows_the_slider_outline_and_note_but_no_engine(
    request, client, who, published, restorations
):
    if who:
        client.force_login(request.getfixturevalue(who))
    html = client.get(_work_url(published, 1)).content.decode()
    restoration = restorations[0]
    entry = published.entries.get(position=1)
    assert "data-slider" in html and "data-slider-input" in html
    assert f'src="{work_file_url(entry, "before")}"' in html
    assert f'src="{work_file_url(entry, "after")}"' in html
    assert re.search(
        r'<input type="range"[^>]*aria-label="[^"]+"[^>]*aria-valuetext="50% before"', html
    )
    outline = re.escape(work_file_url(entry, "outline"))
    assert re.search(rf'<img class="outline" id="work-outline" src="{outline}"', html)
    assert 'id="outline-toggle" aria-pressed="false"' in html
    assert "What is virtual restoration?" in html
    assert "The photograph is not altered" in html and "not evidence" in html
    assert "The west wall" in html  # the caption
    assert 'rel="next"' in html and 'rel="prev"' not in html
    assert _full_url(published, 1, "restored") in html
    lowered = html.lower()
    for name in ENGINE_NAMES:
        assert name not in lowered
    assert f"#{restoration.pk}" not in html and f"#{restoration.job_id}" not in html


def test_work_without_a_result_is_shown_as_photographed(client, published):
    html = client.get(_work_url(published, 2)).content.decode()
    entry = published.entries.get(position=2)
    assert "data-slider" not in html and "outline-toggle" not in html
    assert "Shown as photographed" in html
    assert f'src="{work_file_url(entry, "preview")}"' in html
    assert 'rel="prev"' in html and 'rel="next"' not in html
    assert _full_url(published, 2, "photograph") in html
    assert _full_url(published, 2, "restored") not in html
    assert client.get(_work_url(published, 3)).status_code == 404


def test_public_pages_link_no_originals_no_full_results_and_no_restoration_pages(
    client, expert, published, restorations
):
    motifs = [entry.motif for entry in published.entries.all()]
    forbidden = [restorations[0].image.url, "/restoration/"]
    for motif in motifs:
        forbidden += [reverse("heritage:motif_original", args=[motif.pk]), motif.original.url]
    for viewer in (None, expert):
        if viewer:
            client.force_login(viewer)
        for url in _public_urls(published):
            html = client.get(url).content.decode()
            for link in forbidden:
                assert link not in html, (url, link)
            for image in _images(html):
                assert re.search(r'\balt="[^"]+"', image), (url, image)


def test_full_resolution_view_streams_the_image_under_an_opaque_name(
    client, published, restorations
):
    response = client.get(_full_url(published, 1, "restored"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="painted-caves-1-restored.png"'
    with restorations[0].image.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()

    photograph = client.get(_full_url(published, 2, "photograph"))
    assert photograph.status_code == 200
    assert "painted-caves-2-photograph" in photograph["Content-Disposition"]
    motif = published.entries.get(position=2).motif
    with motif.rgb_file.open("rb") as stored:
        assert b"".join(photograph.streaming_content) == stored.read()

    assert client.get(_full_url(published, 2, "restored")).status_code == 404
    assert client.get(_full_url(published, 1, "original")).status_code == 404


def test_visitor_pages_are_cached_until_an_exhibition_changes(
    client, curator, published, django_capture_on_commit_callbacks
):
    for url in ("/", published.get_absolute_url(), _work_url(published, 1)):
        first = client.get(url)
        assert first["X-Page-Cache"] == "miss"
        second = client.get(url)
        assert second["X-Page-Cache"] == "hit"
        assert second.content == first.content

    with django_capture_on_commit_callbacks(execute=True):
        services.exhibition_update(exhibition=published, user=curator, title="Painted caves II")
    again = client.get(published.get_absolute_url())
    assert again["X-Page-Cache"] == "miss"
    assert "Painted caves II" in again.content.decode()


def test_curator_builds_and_publishes_an_exhibition_through_the_pages(
    curator_client, motifs, restorations, django_capture_on_commit_callbacks
):
    (first, _), (second, _) = motifs
    visitor = Client()
    response = curator_client.post(
        reverse("gallery:exhibition_create"),
        {
            "title": "Cave walls",
            "slug": "",
            "summary": "New",
            "text": "",
            "credits": "",
            "licence": "",
        },
    )
    exhibition = Exhibition.objects.get(title="Cave walls")
    edit_url = reverse("gallery:exhibition_edit", args=[exhibition.pk])
    assert response.status_code == 302 and response["Location"] == edit_url
    page = curator_client.get(edit_url).content.decode()
    # Curators pick results by engine and job; only their pages name engines.
    assert f"Restoration #{restorations[0].job_id} · telea · Demo motif 1" in page
    assert exhibition.get_absolute_url() in page  # the preview link

    add_url = reverse("gallery:exhibition_entry_add", args=[exhibition.pk])
    curator_client.post(
        add_url, {"motif": first.pk, "restoration": restorations[0].job_id, "caption": "West"}
    )
    curator_client.post(add_url, {"motif": second.pk, "restoration": "", "caption": ""})
    refused = curator_client.post(
        add_url, {"motif": first.pk, "restoration": restorations[2].job_id}, follow=True
    )
    assert "The work was not added" in refused.content.decode()
    entries = list(exhibition.entries.order_by("position"))
    assert [(e.position, e.motif, e.restoration) for e in entries] == [
        (1, first, restorations[0]),
        (2, second, None),
    ]

    curator_client.post(
        reverse("gallery:exhibition_entry_move", args=[exhibition.pk, entries[1].pk]),
        {"offset": "-1"},
    )
    assert list(exhibition.entries.order_by("position").values_list("motif", flat=True)) == [
        second.pk,
        first.pk,
    ]
    curator_client.post(
        reverse("gallery:exhibition_entry_update", args=[exhibition.pk, entries[1].pk]),
        {"restoration": restorations[3].job_id, "caption": "East"},
    )
    entries[1].refresh_from_db()
    assert (entries[1].restoration, entries[1].caption) == (restorations[3], "East")

    assert visitor.get(exhibition.get_absolute_url()).status_code == 404
    curator_client.post(reverse("gallery:exhibition_publish", args=[exhibition.pk]))
    exhibition.refresh_from_db()
    assert exhibition.is_published
    assert visitor.get(exhibition.get_absolute_url()).status_code == 200

    curator_client.post(
        reverse("gallery:exhibition_entry_remove", args=[exhibition.pk, entries[1].pk])
    )
    assert list(exhibition.entries.values_list("position", "motif")) == [(1, first.pk)]
    # The visitor's cached copy goes once the unpublishing commits.
    with django_capture_on_commit_callbacks(execute=True):
        curator_client.post(reverse("gallery:exhibition_unpublish", args=[exhibition.pk]))
    assert visitor.get(exhibition.get_absolute_url()).status_code == 404


def test_curator_pages_refuse_bad_input_with_a_message_and_change_nothing(
    curator_client, motifs, restorations
):
    response = curator_client.post(reverse("gallery:exhibition_create"), {"title": " "})
    assert response.status_code == 400
    assert not Exhibition.objects.exists()

    exhibition = services.exhibition_create(
        created_by=response.wsgi_request.user, title="Empty show"
    )
    published = curator_client.post(
        reverse("gallery:exhibition_publish", args=[exhibition.pk]), follow=True
    )
    assert "Add at least one work before publishing" in published.content.decode()
    exhibition.refresh_from_db()
    assert exhibition.status == Exhibition.Status.DRAFT

    entry = services.exhibition_entry_add(
        exhibition=exhibition, user=exhibition.created_by, motif=motifs[0][0]
    )
    update_url = reverse("gallery:exhibition_entry_update", args=[exhibition.pk, entry.pk])
    answer = curator_client.post(
        update_url, {"restoration": restorations[2].job_id, "caption": "x"}, follow=True
    )
    assert "was not saved" in answer.content.decode()
    moved = curator_client.post(
        reverse("gallery:exhibition_entry_move", args=[exhibition.pk, entry.pk]),
        {"offset": "1"},
        follow=True,
    )
    assert "already the last" in moved.content.decode()
    entry.refresh_from_db()
    assert (entry.position, entry.restoration, entry.caption) == (1, None, "")


def test_curator_pages_are_closed_to_visitors_and_experts(client, expert, draft):
    urls = [
        reverse("gallery:exhibition_manage_list"),
        reverse("gallery:exhibition_create"),
        reverse("gallery:exhibition_edit", args=[draft.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(expert)
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(reverse("gallery:exhibition_publish", args=[draft.pk])).status_code == 403
    entry = draft.entries.get()
    remove = reverse("gallery:exhibition_entry_remove", args=[draft.pk, entry.pk])
    assert client.post(remove).status_code == 403
    assert ExhibitionEntry.objects.filter(pk=entry.pk).exists()
    draft.refresh_from_db()
    assert draft.status == Exhibition.Status.DRAFT


def test_manage_list_shows_every_exhibition_with_its_status(curator_client, published, draft):
    html = curator_client.get(reverse("gallery:exhibition_manage_list")).content.decode()
    assert "Painted caves" in html and "Secret draft" in html
    assert "status-published" in html and "status-draft" in html
    assert reverse("gallery:exhibition_edit", args=[draft.pk]) in html
