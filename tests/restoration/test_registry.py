"""Tests for restoration.engines.registry: settings, lazy imports, bounded LRU cache, devices."""

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from restoration.engines import registry as registry_module
from restoration.engines.base import EngineError, UnknownEngine
from restoration.engines.registry import Registry, registry, resolve_device

ROOT = Path(__file__).resolve().parents[2]

_FAKE = '''
"""A fake engine that counts its instances."""
import time

from restoration.engines.base import Engine, Param, Restored

created = []
closed = []


class SlowEngine(Engine):
    """Loads slowly, like a model."""

    name = "slow"
    version = "3"
    params = {"strength": Param(float, 0.5, minimum=0.0, maximum=1.0, help="How much")}

    def __init__(self, **kwargs):
        time.sleep(0.05)  # widens the window in which two threads could both create one
        super().__init__(**kwargs)
        created.append(self)

    def close(self):
        closed.append(self)

    def restore(self, image, mask, *, seed, params, on_progress):
        return Restored(image, {})


class WeightedEngine(SlowEngine):
    needs_weights = True

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


def _slow(fake: str, **options) -> dict:
    return {"slow": {"BACKEND": f"{fake}.SlowEngine", "OPTIONS": options}}


def _run(code: str, **env) -> str:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout.strip()


def test_registry_imports_nothing_until_an_engine_is_asked_for(fake):
    engines = Registry(_slow(fake))
    assert engines.names() == ["slow"]
    assert fake not in sys.modules
    engines.get("slow")
    assert fake in sys.modules


def test_the_settings_registry_lists_engines_without_importing_any_nor_torch():
    out = _run(
        """
        import sys
        import django
        django.setup()
        from restoration.engines.registry import registry
        names = registry().names()
        loaded = sorted(m for m in sys.modules if m.startswith("restoration.engines."))
        print(sorted(set(names) & {"exemplar", "navier_stokes", "telea"}), loaded,
              "cv2" in sys.modules, "torch" in sys.modules)
        """,
        DJANGO_SETTINGS_MODULE="heritage.settings",
        HERITAGE_ENGINES="",
        HERITAGE_ENGINE_OPTIONS="",
    )
    expected = ["restoration.engines.base", "restoration.engines.registry"]
    assert out == f"['exemplar', 'navier_stokes', 'telea'] {expected} False False"


def test_engines_and_pipeline_import_no_django_nor_torch():
    out = _run(
        """
        import sys
        import restoration.engines.colour, restoration.engines.exemplar
        import restoration.engines.harmonic, restoration.engines.navier_stokes
        import restoration.engines.telea
        import restoration.engines.registry, restoration.pipeline
        print("django" in sys.modules, "torch" in sys.modules)
        """
    )
    assert out == "False False"


def test_settings_declare_engines_once_with_env_overrides():
    out = _run(
        """
        import json
        from heritage import settings
        print(json.dumps([settings.RESTORATION_ENGINES, settings.HERITAGE_MAX_LOADED_MODELS,
                          settings.RESTORATION_DEVICE]))
        """,
        HERITAGE_ENGINES="telea=my.pkg.BetterTelea,extra=other.mod.Extra",
        HERITAGE_ENGINE_OPTIONS='{"extra": {"model_dir": "/models/x", "dtype": "float16"}}',
        HERITAGE_MAX_LOADED_MODELS="2",
        HERITAGE_DEVICE="CUDA",
    )
    engines, max_loaded, device = json.loads(out)
    assert engines["telea"] == {"BACKEND": "my.pkg.BetterTelea", "OPTIONS": {}}
    assert engines["extra"] == {
        "BACKEND": "other.mod.Extra",
        "OPTIONS": {"model_dir": "/models/x", "dtype": "float16"},
    }
    assert engines["exemplar"]["BACKEND"] == "restoration.engines.exemplar.ExemplarEngine"
    assert (max_loaded, device) == (2, "cuda")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"HERITAGE_DEVICE": "gpu"}, "HERITAGE_DEVICE must be auto, cpu, cuda or cuda:N"),
        ({"HERITAGE_ENGINE_OPTIONS": '{"nope": {}}'}, "names 'nope', which is not an engine"),
        ({"HERITAGE_ENGINE_OPTIONS": "{bad"}, "HERITAGE_ENGINE_OPTIONS is not valid JSON"),
        ({"HERITAGE_MAX_LOADED_MODELS": "0"}, "HERITAGE_MAX_LOADED_MODELS must be greater"),
    ],
)
def test_settings_refuse_bad_engine_and_device_variables(env, message):
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _run("import heritage.settings", **env)
    assert message in failed.value.stderr


def test_engines_receive_their_options(fake):
    engine = Registry(_slow(fake, model_dir="/m", dtype="float16")).get("slow", device="cuda")
    assert engine.options == {"model_dir": "/m", "dtype": "float16"}
    assert engine.device == "cuda"


def test_registry_returns_the_same_instance_while_it_stays_loaded(fake):
    engines = Registry(_slow(fake), max_loaded=3)
    first = engines.get("slow")
    assert engines.get("slow") is first
    assert engines.get("slow", device="cuda:0") is not first
    assert engines.get("slow", checkpoint="a.pt") is not first
    assert engines.get("slow", checkpoint="a.pt") is engines.get("slow", checkpoint="a.pt")
    assert first.device == "cpu" and engines.get("slow", device="cuda:0").device == "cuda:0"
    assert len(sys.modules[fake].created) == 3


def test_loading_a_second_checkpoint_evicts_and_closes_the_first(fake):
    engines = Registry(_slow(fake))  # the default bound: one loaded model
    first = engines.get("slow", checkpoint="a.pt")
    second = engines.get("slow", checkpoint="b.pt")
    module = sys.modules[fake]
    assert module.closed == [first]
    assert engines.loaded() == [("slow", "b.pt", "cpu")]
    # Coming back to the first loads it again (a new instance) and closes the second.
    again = engines.get("slow", checkpoint="a.pt")
    assert again is not first and module.closed == [first, second]


def test_the_least_recently_used_engine_is_evicted_first(fake):
    engines = Registry(_slow(fake), max_loaded=2)
    a = engines.get("slow", checkpoint="a")
    engines.get("slow", checkpoint="b")
    engines.get("slow", checkpoint="a")  # a is now the most recently used
    engines.get("slow", checkpoint="c")
    assert [key[1] for key in engines.loaded()] == ["a", "c"]
    assert [engine.checkpoint for engine in sys.modules[fake].closed] == ["b"]
    assert engines.get("slow", checkpoint="a") is a


def test_an_engine_evicted_while_a_job_uses_it_is_closed_when_the_job_ends(fake):
    engines = Registry(_slow(fake))
    with engines.lease("slow", checkpoint="a") as first:
        module = sys.modules[fake]
        second = engines.get("slow", checkpoint="b")
        assert engines.loaded() == [("slow", "b", "cpu")]
        assert module.closed == []  # still running: not closed under the job
    assert module.closed == [first]
    assert second not in module.closed


def test_registry_creates_one_instance_under_concurrent_first_calls(fake):
    engines = Registry(_slow(fake))
    got = []
    threads = [threading.Thread(target=lambda: got.append(engines.get("slow"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sys.modules[fake].created) == 1
    assert all(engine is got[0] for engine in got)


def test_concurrent_jobs_on_alternating_checkpoints_stay_within_the_bound(fake):
    engines = Registry(_slow(fake))
    errors = []

    def job(checkpoint):
        try:
            for _ in range(3):
                with engines.lease("slow", checkpoint=checkpoint) as engine:
                    assert engine.checkpoint == checkpoint
                    assert engine not in sys.modules[fake].closed
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    module = sys.modules[fake]
    assert len(engines.loaded()) == 1
    # Every instance but the one still loaded was closed exactly once.
    assert len(module.closed) == len(module.created) - 1 == len(set(map(id, module.closed)))


def test_describe_reads_the_class_without_instantiating_it(fake):
    described = Registry(_slow(fake)).describe("slow")
    assert sys.modules[fake].created == []
    assert described == {
        "name": "slow",
        "version": "3",
        "needs_weights": False,
        "task": "restore",
        "summary": "Loads slowly, like a model.",
        "params": {
            "strength": {
                "kind": "float",
                "default": 0.5,
                "minimum": 0.0,
                "maximum": 1.0,
                "choices": None,
                "help": "How much",
                "label": "Strength",
            }
        },
    }


def test_an_engine_that_needs_weights_refuses_to_load_without(fake):
    engines = Registry({"weighted": {"BACKEND": f"{fake}.WeightedEngine"}})
    with pytest.raises(EngineError, match="needs a checkpoint"):
        engines.get("weighted")
    assert engines.get("weighted", checkpoint="/w").checkpoint == "/w"


def test_the_settings_registry_describes_the_classical_engines():
    engines = registry()
    assert {"exemplar", "navier_stokes", "telea"} <= set(engines.names())
    assert engines.describe("telea")["params"]["radius"]["default"] == 5
    assert set(engines.describe("exemplar")["params"]) == {"patch_size", "iterations", "levels"}


def test_the_settings_registry_is_rebuilt_when_the_settings_change(fake, settings):
    before = registry()
    assert registry() is before
    settings.RESTORATION_ENGINES = _slow(fake)
    settings.HERITAGE_MAX_LOADED_MODELS = 2
    rebuilt = registry()
    assert rebuilt is not before
    assert rebuilt.names() == ["slow"] and rebuilt.max_loaded == 2
    loaded = rebuilt.get("slow")
    settings.RESTORATION_ENGINES = _slow(fake, dtype="float16")
    # The old registry's models are closed: their memory is given back.
    assert sys.modules[fake].closed == [loaded]
    assert registry().options("slow") == {"dtype": "float16"}


def test_unknown_engine_lists_the_known_names():
    with pytest.raises(
        UnknownEngine, match=r"Unknown engine 'dalle'; known engines: (\w+, )*exemplar, "
    ):
        registry().get("dalle")


def test_an_engine_that_fails_to_import_is_an_engine_error():
    engines = Registry({"ghost": {"BACKEND": "restoration.engines.no_such_module.GhostEngine"}})
    with pytest.raises(EngineError, match="Engine 'ghost' cannot be loaded: No module named"):
        engines.get("ghost")


def test_a_path_that_is_not_an_engine_class_is_an_engine_error(fake):
    engines = Registry(
        {"odd": {"BACKEND": f"{fake}.NOT_AN_ENGINE"}, "gone": {"BACKEND": f"{fake}.Missing"}}
    )
    for name in ("odd", "gone"):
        with pytest.raises(EngineError, match="is not a restoration engine class"):
            engines.get(name)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"BACKEND": "Telea"}, "'Telea' is not a dotted path"),
        ("restoration.engines.telea.TeleaEngine", "expected {'BACKEND'"),
        ({"BACKEND": "a.B", "OPTIONS": [1]}, "OPTIONS must be a mapping"),
        ({"BACKEND": "a.B", "OPTION": {}}, "expected {'BACKEND'"),
    ],
)
def test_a_malformed_entry_is_refused_at_construction(entry, message):
    with pytest.raises(EngineError, match=message):
        Registry({"telea": entry})


def test_registry_cleans_params_without_instantiating(fake):
    engines = Registry(_slow(fake))
    assert engines.clean_params("slow", {"strength": "0.25"}) == {"strength": 0.25}
    assert engines.clean_params("slow", None) == {"strength": 0.5}
    assert sys.modules[fake].created == []
    with pytest.raises(EngineError, match="'strength' must be a number from 0.0 to 1.0"):
        engines.clean_params("slow", {"strength": 2})
    with pytest.raises(UnknownEngine):
        engines.clean_params("fast", {})


def test_cpu_is_resolved_without_importing_torch():
    out = _run(
        """
        import sys
        from restoration.engines.registry import resolve_device
        print(resolve_device("cpu"), "torch" in sys.modules)
        """
    )
    assert out == "cpu False"


def test_auto_falls_back_to_the_cpu_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    assert resolve_device("auto") == "cpu"
    with pytest.raises(EngineError, match="HERITAGE_DEVICE=cuda but torch is not installed"):
        resolve_device("cuda")


def test_auto_and_cuda_follow_what_torch_sees(monkeypatch):
    class FakeCuda:
        available = False

        def is_available(self):
            return self.available

        def device_count(self):
            return 1 if self.available else 0

    cuda = FakeCuda()
    monkeypatch.setitem(sys.modules, "torch", type("torch", (), {"cuda": cuda}))
    assert resolve_device("auto") == "cpu"
    with pytest.raises(EngineError, match="sees no such CUDA device"):
        resolve_device("cuda")
    cuda.available = True
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(EngineError, match="sees no such CUDA device"):
        resolve_device("cuda:1")
    with pytest.raises(EngineError, match="must be auto, cpu or cuda"):
        resolve_device("tpu")


def test_the_worker_device_is_resolved_once_per_setting(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(
        registry_module, "resolve_device", lambda value: calls.append(value) or "cpu"
    )
    settings.RESTORATION_DEVICE = "auto"
    assert registry_module.device() == registry_module.device() == "cpu"
    settings.RESTORATION_DEVICE = "cpu"
    registry_module.device()
    assert calls == ["auto", "cpu"]
