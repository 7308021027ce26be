"""Fixtures of restoration tests: an intact motif with simulated damage (ground truth known)."""

import pytest

from heritage import services as heritage_services
from tests import factories


@pytest.fixture
def motif(curator, media):
    return factories.make_demo_motif(user=curator, width=96, height=64)


@pytest.fixture
def simulated(motif, curator):
    """A jelly-like simulated annotation on the intact demo motif."""
    return heritage_services.annotation_simulate(
        motif=motif, author=curator, protocol="blocks", seed=3
    )


@pytest.fixture(autouse=True)
def dispatched(monkeypatch):
    """Jobs are not handed to a runner; tests run them with services.job_run. Returns the ids."""
    from restoration import services

    ids: list[int] = []
    monkeypatch.setattr(services, "job_dispatch", lambda *, job_id: ids.append(job_id))
    return ids
