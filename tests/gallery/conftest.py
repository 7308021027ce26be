"""Fixtures of gallery tests: motifs restored by several engines, and the people who judge them."""

import pytest

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
