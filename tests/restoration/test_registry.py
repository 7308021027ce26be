"""Tests for restoration.engines.registry: lazy imports, one instance, clear errors."""

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from restoration.engines.base import EngineError, UnknownEngine
from restoration.engines.registry import DEFAULT_ENGINES, Registry

ROOT = Path(__file__).resolve().parents[2]

_FAKE = '''
"""A fake engine that counts its instances."""
import time

from restoration.engines.base import Engine, Param

created = []


class SlowEngine(Engine):
    """Loads slowly, like a model."""

    name = "slow"
    version = "3"
    params = {"strength": Param(float, 0.5, minimum=0.0, maximum=1.0, help="How much")}

    def __init__(self, **kwargs):
        time.sleep(0.05)  # widens the window in which two threads could both create one
        super().__init__(**kwargs)
        created.append(self)

    def restore(self, image, mask, *, seed, params, on_progress):
        return image

NOT_AN_ENGINE = 42
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Name of a fresh, not yet imported module holding SlowEngine."""
    name = f"fake_engine_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(_FAKE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_registry_imports_nothing_until_an_engine_is_asked_for(fake):
    registry = Registry({"slow": f"{fake}.SlowEngine"})
    assert registry.names() == ["slow"]
    assert fake not in sys.modules
    registry.get("slow")
    assert fake in sys.modules


def test_registry_with_the_default_engines_imports_no_engine_nor_django():
    code = textwrap.dedent(
        """
        import sys
        from restoration.engines.registry import DEFAULT_ENGINES, Registry
        names = Registry(DEFAULT_ENGINES).names()
        loaded = sorted(m for m in sys.modules if m.startswith("restoration.engines."))
        print(names, loaded, "django" in sys.modules, "cv2" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = [
        "restoration.engines.base",
        "restoration.engines.registry",
    ]
    assert out == f"{sorted(DEFAULT_ENGINES)} {expected} False False"


def test_engines_and_pipeline_import_no_django_nor_torch():
    code = textwrap.dedent(
        """
        import sys
        import restoration.engines.colour, restoration.engines.exemplar
        import restoration.engines.navier_stokes, restoration.engines.telea
        import restoration.pipeline
        print("django" in sys.modules, "torch" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False False"


def test_registry_returns_the_same_instance_per_checkpoint_and_device(fake):
    registry = Registry({"slow": f"{fake}.SlowEngine"})
    first = registry.get("slow")
    assert registry.get("slow") is first
    assert registry.get("slow", device="cuda:0") is not first
    assert registry.get("slow", checkpoint="a.pt") is not first
    assert registry.get("slow", checkpoint="a.pt") is registry.get("slow", checkpoint="a.pt")
    assert first.device == "cpu" and registry.get("slow", device="cuda:0").device == "cuda:0"


def test_registry_creates_one_instance_under_concurrent_first_calls(fake):
    registry = Registry({"slow": f"{fake}.SlowEngine"})
    got = []
    threads = [threading.Thread(target=lambda: got.append(registry.get("slow"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sys.modules[fake].created) == 1
    assert all(engine is got[0] for engine in got)


def test_describe_reads_the_class_without_instantiating_it(fake):
    registry = Registry({"slow": f"{fake}.SlowEngine"})
    described = registry.describe("slow")
    assert sys.modules[fake].created == []
    assert described == {
        "name": "slow",
        "version": "3",
        "needs_weights": False,
        "summary": "Loads slowly, like a model.",
        "params": {
            "strength": {
                "kind": "float",
                "default": 0.5,
                "minimum": 0.0,
                "maximum": 1.0,
                "choices": None,
                "help": "How much",
            }
        },
    }


def test_describe_the_default_engines():
    registry = Registry(DEFAULT_ENGINES)
    assert registry.names() == ["exemplar", "navier_stokes", "telea"]
    assert registry.describe("telea")["params"]["radius"]["default"] == 5
    assert set(registry.describe("exemplar")["params"]) == {"patch_size", "iterations", "levels"}


def test_unknown_engine_lists_the_known_names():
    with pytest.raises(UnknownEngine, match="Unknown engine 'dalle'; known engines: exemplar, "):
        Registry(DEFAULT_ENGINES).get("dalle")


def test_an_engine_that_fails_to_import_is_an_engine_error():
    registry = Registry({"ghost": "restoration.engines.no_such_module.GhostEngine"})
    with pytest.raises(EngineError, match="Engine 'ghost' cannot be loaded: No module named"):
        registry.get("ghost")


def test_a_path_that_is_not_an_engine_class_is_an_engine_error(fake):
    registry = Registry({"odd": f"{fake}.NOT_AN_ENGINE", "gone": f"{fake}.Missing"})
    for name in ("odd", "gone"):
        with pytest.raises(EngineError, match="is not a restoration engine class"):
            registry.get(name)


def test_a_path_without_a_module_is_refused_at_construction():
    with pytest.raises(EngineError, match="'Telea' is not a dotted path"):
        Registry({"telea": "Telea"})


def test_registry_cleans_params_without_instantiating(fake):
    registry = Registry({"slow": f"{fake}.SlowEngine"})
    assert registry.clean_params("slow", {"strength": "0.25"}) == {"strength": 0.25}
    assert registry.clean_params("slow", None) == {"strength": 0.5}
    assert sys.modules[fake].created == []
    with pytest.raises(EngineError, match="'strength' must be a number from 0.0 to 1.0"):
        registry.clean_params("slow", {"strength": 2})
    with pytest.raises(UnknownEngine):
        registry.clean_params("fast", {})
