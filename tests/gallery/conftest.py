"""Fixtures of gallery tests: motifs restored by several engines, and the people who judge them."""

import pytest

from gallery.services import exhibitions as services
from tests import factories

ENGINES = ("telea", "navier_stokes")


@pytest.fixture
def motifs(curator, media):
    """Two small intact demo motifs, each with a drawn damage annotation (64x64)."""
    made = []
    for seed in (1, 2):
        motif = factories.make_demo_motif(
            user=curator, seed=seed, title=f"Demo motif {seed}", width=64, height=64
        )
        annotation = factories.make_annotation(motif=motif, user=curator)
        made.append((motif, annotation))
    return made


@pytest.fixture
def restorations(motifs, curator):
    """Per motif, one restoration by each engine in ENGINES (telea first)."""
    return [
        factories.make_restoration(annotation=annotation, user=curator, engine=engine)
        for _, annotation in motifs
        for engine in ENGINES
    ]


@pytest.fixture
def second_expert(db):
    return factories.make_user("expert-two", role="expert")


@pytest.fixture
def published(curator, motifs, restorations):
    """Published: motif 1 restored (telea), then motif 2 as photographed."""
    (first, _), (second, _) = motifs
    exhibition = services.exhibition_create(
        created_by=curator,
        title="Painted caves",
        summary="Two walls, one restored.",
        text="First paragraph.\n\nSecond paragraph.",
        credits="Photographs: the cave academy",
        licence="CC BY-NC 4.0",
    )
    services.exhibition_entry_add(
        exhibition=exhibition,
        user=curator,
        motif=first,
        restoration=restorations[0],
        caption="The west wall",
    )
    services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=second)
    services.exhibition_publish(exhibition=exhibition, user=curator)
    return exhibition


@pytest.fixture
def draft(curator, motifs):
    exhibition = services.exhibition_create(created_by=curator, title="Secret draft")
    services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=motifs[0][0])
    return exhibition
