"""Stylized images in exhibitions: shown honestly as machine re-renderings, not restorations."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from gallery.results import work_file_url
from gallery.services import exhibitions as services
from tests.gallery.stylized import make_photograph, make_stylized

pytestmark = pytest.mark.django_db

ENGINE_WORDS = ("cyclegan", "CycleGAN", "cut_", "/cut", "telea")


@pytest.fixture
def photograph(curator, media):
    return make_photograph(user=curator, seed=80, title="Misty valley", style="Landscape photo")


@pytest.fixture
def stylized(curator, photograph):
    return make_stylized(motif=photograph, user=curator, engine="cyclegan")


@pytest.fixture
def exhibition(curator, photograph, stylized, motifs, restorations):
    """Published: work 1 restored, work 2 the stylized photograph."""
    exhibition = services.exhibition_create(created_by=curator, title="Blue and green")
    services.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=motifs[0][0], restoration=restorations[0]
    )
    services.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=photograph, restoration=stylized
    )
    services.exhibition_publish(exhibition=exhibition, user=curator)
    return exhibition


def test_the_work_page_says_the_image_is_a_stylization_and_offers_no_outline(exhibition):
    visitor = Client()
    page = visitor.get(reverse("gallery:exhibition_work", args=[exhibition.slug, 2]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Stylized by a model from a photograph" in html
    assert "What is style transfer?" in html and "every pixel of the image is new" in html
    assert "Outline the reconstructed area" not in html and "outline-toggle" not in html
    assert "digitally restored" not in html.lower() and "virtual restoration" not in html
    assert "the stylized image</a>" in html and "the restored image" not in html
    for word in ENGINE_WORDS:
        assert word not in html, word
    images = re.findall(r'<img class="(before|after)" src="([^"]+)" alt="([^"]+)"', html)
    assert [(kind, alt) for kind, _, alt in images] == [
        ("before", "Before: Misty valley, the photograph"),
        ("after", "After: Misty valley, stylized by a model from a photograph"),
    ]
    for _, url, _ in images:
        assert visitor.get(url).status_code == 200
    entry = exhibition.entries.get(position=2)
    outline = reverse("media:work", args=[entry.pk, "outline", "png"])
    assert visitor.get(outline).status_code == 404


def test_the_restored_work_beside_it_keeps_its_restoration_texts(exhibition):
    html = Client().get(reverse("gallery:exhibition_work", args=[exhibition.slug, 1])).content
    html = html.decode()
    assert "What is virtual restoration?" in html and "Digitally restored" in html
    assert "What is style transfer?" not in html


def test_the_exhibition_lists_each_work_as_what_it_is(exhibition):
    html = Client().get(exhibition.get_absolute_url()).content.decode()

    assert re.findall(r'<p class="meta">(Digitally restored|Stylized[^<]*)</p>', html) == [
        "Digitally restored",
        "Stylized by a model from a photograph",
    ]
    assert 'alt="Misty valley, stylized by a model from a photograph"' in html


def test_the_full_resolution_result_is_the_stylized_image(exhibition, stylized):
    response = Client().get(
        reverse("gallery:exhibition_work_full", args=[exhibition.slug, 2, "restored"])
    )

    assert response.status_code == 200
    with stylized.image.open("rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()


def test_the_api_gives_the_kind_and_no_outline(exhibition, stylized):
    data = Client().get(f"/api/v1/exhibitions/{exhibition.slug}/").json()

    restored, styled = data["works"]
    assert restored["kind"] == "restoration" and restored["shown"] == "digitally restored"
    assert styled["kind"] == "stylized"
    assert styled["shown"] == "stylized by a model from a photograph"
    entry = exhibition.entries.get(position=2)
    assert styled["images"]["outline"] is None
    assert styled["images"]["before"] == work_file_url(entry, "before")
    assert styled["images"]["after"] == work_file_url(entry, "after")
    assert "cyclegan" not in str(data).lower()


def test_a_stylized_image_of_another_photograph_is_refused(curator, exhibition, motifs, stylized):
    with pytest.raises(ValidationError) as refused:
        services.exhibition_entry_add(
            exhibition=exhibition, user=curator, motif=motifs[1][0], restoration=stylized
        )
    assert refused.value.code == "wrong_motif"
    assert exhibition.entries.count() == 2


def test_curators_pick_stylized_images_by_engine(
    curator_client, exhibition, stylized, restorations
):
    html = curator_client.get(reverse("gallery:exhibition_edit", args=[exhibition.pk])).content
    # Named as their job pages name them: the job's number, never the result's own id.
    assert f"Style transfer #{stylized.job_id} · cyclegan · Misty valley" in html.decode()
    assert f"Restoration #{restorations[0].job_id} · telea · Demo motif 1" in html.decode()
