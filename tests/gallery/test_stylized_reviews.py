"""Blind expert review of stylized images: the style rubric, the photograph as reference."""

import csv
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from gallery.models import STYLE_RUBRIC, ReviewCampaign, ReviewItem
from gallery.selectors import reviews as selectors
from gallery.services.reviews import campaign_create, review_submit
from tests.gallery.stylized import make_photograph, make_stylized

pytestmark = pytest.mark.django_db

STYLE_KEYS = [criterion["key"] for criterion in STYLE_RUBRIC]


@pytest.fixture
def stylized(curator, media):
    photographs = [make_photograph(user=curator, seed=60 + n, title=f"Ridge {n}") for n in (1, 2)]
    return [
        make_stylized(motif=photo, user=curator, engine=engine, seed=n)
        for n, photo in enumerate(photographs)
        for engine in ("cyclegan", "cut")
    ]


def style_campaign(curator, stylized, experts, **extra):
    return campaign_create(
        created_by=curator,
        title="Blue-green renderings",
        restorations=stylized,
        experts=experts,
        open_now=True,
        **extra,
    )


def test_a_campaign_of_stylized_images_takes_the_style_rubric_and_the_photograph(
    curator, expert, stylized
):
    campaign = style_campaign(curator, stylized, [expert])

    assert campaign.kind == "stylized"
    assert campaign.criteria == STYLE_KEYS
    assert [c["label"] for c in campaign.rubric] == [
        "Style fidelity",
        "Colour palette",
        "Brushwork and texture",
        "Content preserved",
        "Overall",
    ]
    assert campaign.reference == ReviewCampaign.Reference.PHOTOGRAPH
    assert campaign.items.count() == 4


def test_restorations_keep_their_rubric_and_reference(curator, expert, restorations):
    campaign = campaign_create(
        created_by=curator, title="Pilot", restorations=restorations, experts=[expert]
    )
    assert campaign.kind == "restoration"
    assert campaign.criteria[0] == "structure"
    assert campaign.reference == ReviewCampaign.Reference.DAMAGED


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"reference": "damaged"}, "bad_reference"),
        ({"reference": "original"}, "bad_reference"),
        ({"criteria": ["style_fidelity", "restraint"]}, "unknown_criterion"),
        ({"criteria": []}, "no_criteria"),
    ],
)
def test_a_style_campaign_refuses_restoration_references_and_criteria(
    curator, expert, stylized, extra, code
):
    with pytest.raises(ValidationError) as refused:
        style_campaign(curator, stylized, [expert], **extra)

    assert refused.value.code == code
    assert not ReviewCampaign.objects.exists()


def test_a_restoration_campaign_refuses_the_photograph_reference(curator, expert, restorations):
    with pytest.raises(ValidationError) as refused:
        campaign_create(
            created_by=curator,
            title="Pilot",
            restorations=restorations,
            experts=[expert],
            reference="photograph",
        )
    assert refused.value.code == "bad_reference"
    assert "damaged input or the original" in refused.value.messages[0]


def test_one_campaign_does_not_mix_restorations_and_stylized_images(
    curator, expert, restorations, stylized
):
    with pytest.raises(ValidationError) as refused:
        style_campaign(curator, [*restorations[:1], *stylized], [expert])

    assert refused.value.code == "mixed_kinds"
    assert "1 restoration(s) and 4 stylized image(s)" in refused.value.messages[0]
    assert not ReviewCampaign.objects.exists() and not ReviewItem.objects.exists()


def test_the_expert_page_shows_the_photograph_as_reference_blind_and_without_outline(
    curator, expert, expert_client, stylized
):
    campaign = style_campaign(curator, stylized, [expert])
    item = campaign.items.order_by("id").first()

    page = expert_client.get(reverse("gallery:review_item", args=[campaign.pk, item.token]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "The photograph that was stylized" in html
    assert "the stylized image to score" in html
    assert "Outline the reconstructed area" not in html
    for label in ("Style fidelity", "Colour palette", "Content preserved"):
        assert label in html
    for secret in ("cyclegan", "cut", "/media/", "restorations/"):
        assert secret not in html.lower().replace("shortcut", ""), secret
    urls = set(re.findall(r'src="(/review/items/[^"]+)"', html))
    assert {url.rsplit("/", 1)[1].split(".")[0] for url in urls} == {"reference", "result"}
    reference = expert_client.get(next(url for url in urls if "/reference." in url))
    with item.restoration.input_preview.open("rb") as handle:
        assert b"".join(reference.streaming_content) == handle.read()
    outline = f"/review/items/{item.token}/outline.png"
    assert expert_client.get(outline).status_code == 404


def test_style_scores_give_results_and_csv_per_criterion(
    curator, expert, second_expert, curator_client, stylized
):
    campaign = style_campaign(curator, stylized, [expert, second_expert])
    for number, item in enumerate(campaign.items.order_by("id")):
        for who, shift in ((expert, 0), (second_expert, 1)):
            good = 5 if item.restoration.engine == "cyclegan" else 2
            scores = {key: min(5, good + shift) for key in STYLE_KEYS}
            scores["content"] = 3
            review_submit(item=item, expert=who, scores=scores, comment=f"note {number}")

    results = selectors.campaign_results(campaign=campaign)

    assert results["engines"] == ["cut", "cyclegan"]
    means = results["means"]
    assert means[("cyclegan", "style_fidelity")].value == pytest.approx(5)
    assert means[("cut", "palette")].value == pytest.approx(2.5)
    assert means[("cut", "content")].value == pytest.approx(3)
    assert [a["key"] for a in results["agreement"]] == STYLE_KEYS

    response = curator_client.get(reverse("gallery:campaign_scores_csv", args=[campaign.pk]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 4 * 2 * len(STYLE_KEYS)
    assert {row["criterion"] for row in rows} == set(STYLE_KEYS)
    assert {row["engine"] for row in rows} == {"cut", "cyclegan"}

    detail = curator_client.get(reverse("gallery:campaign_detail", args=[campaign.pk]))
    assert "4 stylized images of 2 engines" in detail.content.decode()
    api = curator_client.get(f"/api/v1/review/campaigns/{campaign.pk}/results/").json()
    assert api["kind"] == "stylized"
    assert list(api["means"]["cyclegan"]) == STYLE_KEYS


def test_curator_form_makes_a_style_campaign_whatever_reference_is_ticked(
    curator_client, expert, stylized
):
    page = curator_client.get(reverse("gallery:campaign_create"))
    assert "stylized from the photograph" in page.content.decode()

    response = curator_client.post(
        reverse("gallery:campaign_create"),
        {
            "title": "Style pilot",
            "reference": "damaged",
            "restorations": [r.job_id for r in stylized],
            "experts": [expert.pk],
            "criteria": ["structure"],
            "style_criteria": ["style_fidelity", "overall"],
        },
    )

    assert response.status_code == 302
    campaign = ReviewCampaign.objects.get()
    assert campaign.kind == "stylized" and campaign.reference == "photograph"
    assert campaign.criteria == ["style_fidelity", "overall"]


def test_curator_form_says_why_mixed_kinds_are_refused(
    curator_client, expert, stylized, restorations
):
    response = curator_client.post(
        reverse("gallery:campaign_create"),
        {
            "title": "Mixed",
            "reference": "damaged",
            "restorations": [stylized[0].job_id, restorations[0].job_id],
            "experts": [expert.pk],
            "criteria": ["structure"],
            "style_criteria": ["overall"],
        },
    )

    assert response.status_code == 400
    assert "one kind of result" in response.content.decode()
    assert not ReviewCampaign.objects.exists()


def test_curator_form_asks_for_a_style_criterion(curator_client, expert, stylized):
    response = curator_client.post(
        reverse("gallery:campaign_create"),
        {
            "title": "Style pilot",
            "restorations": [stylized[0].job_id],
            "experts": [expert.pk],
            "criteria": ["structure"],
        },
    )

    assert response.status_code == 400
    assert "Choose at least one criterion to score." in response.content.decode()
    assert not ReviewCampaign.objects.exists()


def test_experts_get_the_style_rubric_and_reference_in_the_api(
    curator, expert, expert_client, stylized
):
    style_campaign(curator, stylized, [expert])

    data = expert_client.get("/api/v1/review/campaigns/").json()

    assert [c["reference"] for c in data] == ["The photograph that was stylized"]
    assert [c["key"] for c in data[0]["rubric"]] == STYLE_KEYS
