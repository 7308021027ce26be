"""Catalogue reads: list filters, annotation counts and revisions, filter choices."""

import pytest

from heritage import selectors, services
from tests import factories

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def catalogue(curator):
    """Four motifs over two sites, eras and styles."""
    specs = [
        ("Blue-green landscape with deer", "Mogao Cave 285", "Western Wei", "QingLvShanShui"),
        ("Hunting scene, west wall", "Mogao Cave 285", "Tang", "Figure painting"),
        ("Dancing figures, cliff section 2", "Huashan", "Warring States", ""),
        ("Blue bodhisattva", "Kizil Cave 38", "Tang", "QingLvShanShui"),
    ]
    return {
        title: factories.make_motif(
            user=curator, title=title, site_name=site, era=era, style=style, seed=seed
        )
        for seed, (title, site, era, style) in enumerate(specs)
    }


def _titles(motifs) -> set[str]:
    return {motif.title for motif in motifs}


def test_motif_list_without_filters_lists_everything_newest_first(catalogue):
    motifs = list(selectors.motif_list())
    assert [motif.title for motif in motifs] == list(reversed(list(catalogue)))


def test_motif_list_filters_by_site(catalogue):
    site = catalogue["Hunting scene, west wall"].site
    assert _titles(selectors.motif_list(site=site.pk)) == {
        "Blue-green landscape with deer",
        "Hunting scene, west wall",
    }


def test_motif_list_filters_by_era_and_style(catalogue):
    assert _titles(selectors.motif_list(era="Tang")) == {
        "Hunting scene, west wall",
        "Blue bodhisattva",
    }
    assert _titles(selectors.motif_list(style="QingLvShanShui")) == {
        "Blue-green landscape with deer",
        "Blue bodhisattva",
    }
    assert _titles(selectors.motif_list(era="Tang", style="QingLvShanShui")) == {"Blue bodhisattva"}


def test_motif_list_search_needs_every_word_in_the_title(catalogue):
    assert _titles(selectors.motif_list(search="blue")) == {
        "Blue-green landscape with deer",
        "Blue bodhisattva",
    }
    assert _titles(selectors.motif_list(search="  BLUE   deer ")) == {
        "Blue-green landscape with deer"
    }
    assert _titles(selectors.motif_list(search="blue hunting")) == set()


def test_motif_list_counts_only_the_latest_revision_of_each_annotation(catalogue, curator):
    motif = catalogue["Blue bodhisattva"]
    first = factories.make_annotation(motif=motif, user=curator)
    revised = factories.make_annotation(motif=motif, user=curator, supersedes=first)
    factories.make_annotation(motif=motif, user=curator, supersedes=revised)
    factories.make_annotation(motif=motif, user=curator)

    counts = {m.title: m.annotation_count for m in selectors.motif_list()}
    assert counts["Blue bodhisattva"] == 2
    assert counts["Hunting scene, west wall"] == 0


def test_annotation_list_hides_superseded_revisions(catalogue, curator):
    motif = catalogue["Blue bodhisattva"]
    first = factories.make_annotation(motif=motif, user=curator)
    revised = factories.make_annotation(motif=motif, user=curator, supersedes=first)
    separate = factories.make_annotation(motif=motif, user=curator)
    elsewhere = factories.make_annotation(
        motif=catalogue["Blue-green landscape with deer"], user=curator
    )

    current = list(selectors.annotation_list(motif=motif))
    assert current == [separate, revised]
    assert elsewhere not in current
    assert selectors.annotation_history(annotation=revised) == [first]


def test_motif_filter_choices_offer_only_values_in_use(catalogue):
    services.site_get_or_create(name="Empty site without motifs")

    choices = selectors.motif_filter_choices()

    assert [site.name for site in choices["sites"]] == [
        "Huashan",
        "Kizil Cave 38",
        "Mogao Cave 285",
    ]
    assert choices["eras"] == ["Tang", "Warring States", "Western Wei"]
    assert choices["styles"] == ["Figure painting", "QingLvShanShui"]


def test_user_can_browse_catalogue_only_as_curator_or_expert(curator, expert, plain_user):
    assert selectors.user_can_browse_catalogue(user=curator)
    assert selectors.user_can_browse_catalogue(user=expert)
    assert not selectors.user_can_browse_catalogue(user=plain_user)
