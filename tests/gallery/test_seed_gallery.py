"""The seed_gallery command: demo restorations, a published exhibition, a review and a study."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from gallery.models import Exhibition, ReviewCampaign, UserStudy
from gallery.services.showcase import STYLE_STUDY_SLUG
from heritage.models import Motif, User
from restoration.models import Restoration
from tests.gallery.stylized import make_stylized


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


def _demo_photograph() -> Motif:
    return Motif.objects.get(kind=Motif.Kind.PHOTOGRAPH)


def test_seed_gallery_shows_the_demo_photographs_stylized_images_once(demo):
    curator = User.objects.get(username="curator")
    photograph = _demo_photograph()
    made = [make_stylized(motif=photograph, user=curator, engine=e) for e in ("cyclegan", "cut")]

    output = run("seed_gallery")

    exhibition = Exhibition.objects.get()
    last = exhibition.entries.order_by("position").last()
    assert last.motif == photograph and last.restoration in made
    study = UserStudy.objects.get(slug=STYLE_STUDY_SLUG)
    assert study.is_open and study.kind == "stylized"
    assert set(study.trials.get().candidates.values_list("restoration", flat=True)) == {
        result.pk for result in made
    }
    assert "open style study" in output
    page = Client().get(last.get_absolute_url()).content.decode()
    assert "Stylized by a model from a photograph" in page

    run("seed_gallery")

    assert exhibition.entries.filter(motif=photograph).count() == 1
    assert UserStudy.objects.filter(kind="stylized").count() == 1


def test_seed_gallery_exhibits_a_photograph_stylized_by_one_engine_without_a_study(demo):
    curator = User.objects.get(username="curator")
    only = make_stylized(motif=_demo_photograph(), user=curator, engine="cyclegan")

    run("seed_gallery")

    assert Exhibition.objects.get().entries.filter(restoration=only).exists()
    assert not UserStudy.objects.filter(kind="stylized").exists()
