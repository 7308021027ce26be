"""The one registry of engines: built from settings.RESTORATION_ENGINES, imported lazily.

`registry()` is the process's registry, built on first use from
`settings.RESTORATION_ENGINES = {name: {"BACKEND": "package.module.Class", "OPTIONS": {...}}}`
and `settings.HERITAGE_MAX_LOADED_MODELS`, and rebuilt when either setting changes (tests).
`resolve_device()` turns `settings.RESTORATION_DEVICE` (HERITAGE_DEVICE: auto, cpu, cuda) into
the device engines get; torch is imported only there, and only for auto or cuda.

The `Registry` class itself needs neither Django nor any engine: it imports an engine's module
when that engine is first asked for.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from restoration.engines.base import Engine, EngineError, UnknownEngine

DEVICES = ("auto", "cpu", "cuda")

_Key = tuple[str, str | None, str]


class Registry:
    """Engines by name, from settings-shaped entries {"BACKEND": dotted path, "OPTIONS": {}}.

    Nothing is imported until an engine is asked for, so the web process can build the
    registry (and list names) without importing any engine. `describe` imports the engine's
    module but does not instantiate it: engines that need torch or diffusers must import them
    inside their methods, not at module top.

    Loaded engines are cached per (name, checkpoint, device) with at most `max_loaded` of them
    alive, evicted least-recently-used, so that jobs alternating between checkpoints cannot
    exhaust GPU memory. An evicted engine's `close()` is called as soon as no `lease` of it is
    running, never under a job that still uses it.
    """

    def __init__(self, engines: Mapping[str, Mapping[str, Any]], *, max_loaded: int = 1) -> None:
        """Raises EngineError for an entry without a dotted BACKEND path or with bad OPTIONS."""
        if max_loaded < 1:
            raise EngineError(f"At least one loaded model must be allowed, got {max_loaded}")
        self._backends: dict[str, str] = {}
        self._options: dict[str, dict[str, Any]] = {}
        for name, entry in engines.items():
            if not isinstance(entry, Mapping) or set(entry) - {"BACKEND", "OPTIONS"}:
                raise EngineError(
                    f"Engine {name!r}: expected {{'BACKEND': 'package.module.Class', "
                    f"'OPTIONS': {{...}}}}, got {entry!r}"
                )
            path = entry.get("BACKEND")
            if not isinstance(path, str) or "." not in path:
                raise EngineError(f"Engine {name!r}: {path!r} is not a dotted path to a class")
            options = entry.get("OPTIONS") or {}
            if not isinstance(options, Mapping):
                raise EngineError(f"Engine {name!r}: OPTIONS must be a mapping, got {options!r}")
            self._backends[name] = path
            self._options[name] = dict(options)
        self.max_loaded = max_loaded
        self._loaded: OrderedDict[_Key, Engine] = OrderedDict()
        self._leases: dict[int, int] = {}  # id(engine) -> running leases
        self._evicted: dict[int, Engine] = {}  # evicted while leased: closed on release
        # One lock for all engines: loading is rare and serialising it keeps memory bounded.
        self._lock = threading.RLock()

    def names(self) -> list[str]:
        """Registered engine names, sorted."""
        return sorted(self._backends)

    def options(self, name: str) -> dict[str, Any]:
        """A copy of the engine's OPTIONS. Raises UnknownEngine."""
        self._check_known(name)
        return dict(self._options[name])

    def _check_known(self, name: str) -> None:
        if name not in self._backends:
            known = ", ".join(self.names()) or "none"
            raise UnknownEngine(f"Unknown engine {name!r}; known engines: {known}")

    def engine_class(self, name: str) -> type[Engine]:
        """The engine's class, importing its module.

        Raises UnknownEngine listing the known names; EngineError when the module does not
        import or the path does not name an Engine subclass.
        """
        self._check_known(name)
        module_path, _, class_name = self._backends[name].rpartition(".")
        try:
            module = importlib.import_module(module_path)
        except ImportError as exc:
            raise EngineError(f"Engine {name!r} cannot be loaded: {exc}") from exc
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, Engine)):
            raise EngineError(
                f"Engine {name!r}: {self._backends[name]!r} is not a restoration engine class"
            )
        return cls

    def describe(self, name: str) -> dict[str, Any]:
        """Name, version, whether weights are needed, one-line summary and parameters.

        Imports the engine's module but does not instantiate the engine.
        Each parameter: {"kind": "int", "default", "minimum", "maximum", "choices", "help",
        "label"}.
        Raises like `engine_class`.
        """
        cls = self.engine_class(name)
        summary = (cls.__doc__ or "").strip().splitlines()
        return {
            "name": name,
            "version": cls.version,
            "needs_weights": cls.needs_weights,
            "task": cls.task,
            "summary": summary[0] if summary else "",
            "params": {
                key: {
                    "kind": spec.kind.__name__,
                    "default": spec.default,
                    "minimum": spec.minimum,
                    "maximum": spec.maximum,
                    "choices": list(spec.choices) if spec.choices is not None else None,
                    "help": spec.help,
                    "label": spec.title(key),
                }
                for key, spec in cls.params.items()
            },
        }

    def clean_params(self, name: str, params: Mapping[str, object] | None) -> dict[str, Any]:
        """The engine's parameters cleaned by its class (defaults, conversions, ranges).

        Imports the engine's module but does not instantiate it. Raises like `engine_class`,
        and EngineError naming the parameter for bad values.
        """
        return self.engine_class(name).clean_params(params)

    def get(self, name: str, *, checkpoint: str | None = None, device: str = "cpu") -> Engine:
        """The loaded engine for (name, checkpoint, device), created and cached on first use.

        The most recently used engines stay loaded, at most `max_loaded`; loading one more
        evicts the least recently used and calls its `close()` (deferred while a `lease` of it
        runs). Thread-safe: concurrent first calls create a single instance. Raises like
        `engine_class`, plus whatever EngineError the engine's constructor raises.
        """
        with self._lock:
            return self._get_locked((name, checkpoint, device))

    @contextmanager
    def lease(
        self, name: str, *, checkpoint: str | None = None, device: str = "cpu"
    ) -> Iterator[Engine]:
        """`get`, holding the engine open for the block: eviction meanwhile defers its close."""
        with self._lock:
            engine = self._get_locked((name, checkpoint, device))
            self._leases[id(engine)] = self._leases.get(id(engine), 0) + 1
        try:
            yield engine
        finally:
            to_close = None
            with self._lock:
                left = self._leases[id(engine)] - 1
                if left:
                    self._leases[id(engine)] = left
                else:
                    del self._leases[id(engine)]
                    to_close = self._evicted.pop(id(engine), None)
            if to_close is not None:
                _close(to_close)

    def loaded(self) -> list[_Key]:
        """Keys (name, checkpoint, device) of the loaded engines, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def close_all(self) -> None:
        """Evict every loaded engine (closing those not leased now)."""
        with self._lock:
            keys = list(self._loaded)
            closing = [self._evict_locked(key) for key in keys]
        for engine in closing:
            if engine is not None:
                _close(engine)

    def _get_locked(self, key: _Key) -> Engine:
        engine = self._loaded.get(key)
        if engine is not None:
            self._loaded.move_to_end(key)
            return engine
        name, checkpoint, device = key
        cls = self.engine_class(name)
        # Free memory before loading the next model, not after: two at once may not fit.
        closing = []
        while len(self._loaded) >= self.max_loaded:
            closing.append(self._evict_locked(next(iter(self._loaded))))
        for old in closing:
            if old is not None:
                _close(old)
        engine = cls(options=self._options[name], checkpoint=checkpoint, device=device)
        self._loaded[key] = engine
        return engine

    def _evict_locked(self, key: _Key) -> Engine | None:
        """Drop a loaded engine; returns it if it can be closed now (no running lease)."""
        engine = self._loaded.pop(key)
        if self._leases.get(id(engine)):
            self._evicted[id(engine)] = engine
            return None
        return engine


def _close(engine: Engine) -> None:
    close = getattr(engine, "close", None)
    if callable(close):
        close()


def resolve_device(requested: str) -> str:
    """The device engines run on for a HERITAGE_DEVICE value.

    "cpu" -> "cpu" without importing torch. "auto" -> "cuda" when torch imports and sees a CUDA
    device, else "cpu". "cuda" or "cuda:N" -> itself, or EngineError when torch is missing or
    sees no such device. Raises EngineError for any other value.
    """
    requested = requested.strip().lower()
    if requested == "cpu":
        return "cpu"
    index = 0
    if requested.startswith("cuda:") and requested[5:].isdigit():
        index = int(requested[5:])
    elif requested not in ("auto", "cuda"):
        raise EngineError(f"HERITAGE_DEVICE must be auto, cpu or cuda, got {requested!r}")
    try:
        import torch
    except ImportError:
        if requested == "auto":
            return "cpu"
        raise EngineError(
            f"HERITAGE_DEVICE={requested} but torch is not installed in this worker"
        ) from None
    available = torch.cuda.is_available()
    if requested == "auto":
        return "cuda" if available else "cpu"
    if not available or index >= torch.cuda.device_count():
        raise EngineError(f"HERITAGE_DEVICE={requested} but this worker sees no such CUDA device")
    return requested


# The process's registry and resolved device, built from settings on first use.
_state_lock = threading.Lock()
_registry: Registry | None = None
_devices: dict[str, str] = {}
_connected = False
WATCHED_SETTINGS = frozenset(
    {"RESTORATION_ENGINES", "HERITAGE_MAX_LOADED_MODELS", "RESTORATION_DEVICE"}
)


def registry() -> Registry:
    """The registry of settings.RESTORATION_ENGINES, built once per process (per settings)."""
    global _registry
    with _state_lock:
        if _registry is None:
            from django.conf import settings

            _connect_reset()
            _registry = Registry(
                settings.RESTORATION_ENGINES,
                max_loaded=getattr(settings, "HERITAGE_MAX_LOADED_MODELS", 1),
            )
        return _registry


def device() -> str:
    """settings.RESTORATION_DEVICE resolved (see `resolve_device`), once per process."""
    from django.conf import settings

    requested = settings.RESTORATION_DEVICE
    with _state_lock:
        _connect_reset()
        if requested not in _devices:
            _devices[requested] = resolve_device(requested)
        return _devices[requested]


def reset() -> None:
    """Forget the registry (closing its loaded engines) and the resolved device."""
    global _registry
    with _state_lock:
        old, _registry = _registry, None
        _devices.clear()
    if old is not None:
        old.close_all()


def _on_setting_changed(*, setting: str, **_kwargs) -> None:
    if setting in WATCHED_SETTINGS:
        reset()


def _connect_reset() -> None:
    global _connected
    if not _connected:
        from django.core.signals import setting_changed

        setting_changed.connect(_on_setting_changed, dispatch_uid="restoration.engines.registry")
        _connected = True
