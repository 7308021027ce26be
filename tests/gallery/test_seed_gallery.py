"""The seed_gallery command: demo restorations, a published exhibition, a review and a study."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from gallery.models import Exhibition, ReviewCampaign, UserStudy
from restoration.models import Restoration


def run(command: str, *args) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def demo(settings, media, db, monkeypatch):
    monkeypatch.delenv("HERITAGE_DEMO_PASSWORD", raising=False)
    settings.DEBUG = True
    # Two damaged motifs (rock art, then a mural) and their two intact twins.
    run("seed_demo", "--motifs", "2")


def test_seed_gallery_refuses_without_demo_content(db):
    with pytest.raises(CommandError, match="seed_demo first"):
        run("seed_gallery")


def test_seed_gallery_restores_exhibits_reviews_and_studies_once(demo):
    output = run("seed_gallery")

    engines = sorted(Restoration.objects.values_list("engine", flat=True))
    # telea and navier_stokes on both damaged motifs, exemplar on the mural.
    assert engines == ["exemplar", "navier_stokes", "navier_stokes", "telea", "telea"]
    exhibition = Exhibition.objects.get()
    assert exhibition.is_published
    entry = exhibition.entries.get()
    assert entry.restoration.engine == "exemplar"
    assert "mural" in entry.motif.style.lower()

    campaign = ReviewCampaign.objects.get()
    assert campaign.status == ReviewCampaign.Status.OPEN
    assert list(campaign.experts.values_list("username", flat=True)) == ["expert"]
    assert campaign.items.count() == 4

    study = UserStudy.objects.get()
    assert study.is_open
    # One trial per exhibited mural: telea, navier_stokes and exemplar on the same input.
    assert study.trials.count() == 1
    assert study.trials.get().candidates.count() == 3
    assert "published exhibition" in output

    # What a visitor reads is true: the demo damage and its masks are generated, not hand-marked.
    for url, claim in (
        (exhibition.get_absolute_url(), "Their damage is generated too"),
        (entry.get_absolute_url(), "Generated damage over"),
    ):
        page = Client().get(url).content.decode()
        assert claim in page
        assert "marked by hand" not in page and "Damage marked" not in page

    again = run("seed_gallery")

    assert Restoration.objects.count() == 5
    assert (Exhibition.objects.count(), ReviewCampaign.objects.count()) == (1, 1)
    assert UserStudy.objects.count() == 1
    assert "already present" in again
