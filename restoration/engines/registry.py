"""Engine names mapped to dotted paths, imported on first use, one instance per process."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

from restoration.engines.base import Engine, EngineError, UnknownEngine

DEFAULT_ENGINES: dict[str, str] = {
    "telea": "restoration.engines.telea.TeleaEngine",
    "navier_stokes": "restoration.engines.navier_stokes.NavierStokesEngine",
    "exemplar": "restoration.engines.exemplar.ExemplarEngine",
}


class Registry:
    """Engines by name, from a mapping name -> "package.module.ClassName".

    Nothing is imported until an engine is asked for, so the web process can build the
    registry (and list names) without importing any engine. `describe` imports the engine's
    module but does not instantiate it: engines that need torch or diffusers must import them
    inside their methods, not at module top. `get` keeps one instance per (name, checkpoint,
    device) for the life of the process, so a worker loads weights once.
    """

    def __init__(self, engines: Mapping[str, str]) -> None:
        """Raises EngineError for a path that is not "module.ClassName"."""
        for name, path in engines.items():
            if "." not in path:
                raise EngineError(f"Engine {name!r}: {path!r} is not a dotted path to a class")
        self._paths = dict(engines)
        self._instances: dict[tuple[str, str | None, str], Engine] = {}
        # One lock for all engines: loading is rare and serialising it keeps memory bounded.
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Registered engine names, sorted."""
        return sorted(self._paths)

    def engine_class(self, name: str) -> type[Engine]:
        """The engine's class, importing its module.

        Raises UnknownEngine listing the known names; EngineError when the module does not
        import or the path does not name an Engine subclass.
        """
        if name not in self._paths:
            known = ", ".join(self.names()) or "none"
            raise UnknownEngine(f"Unknown engine {name!r}; known engines: {known}")
        module_path, _, class_name = self._paths[name].rpartition(".")
        try:
            module = importlib.import_module(module_path)
        except ImportError as exc:
            raise EngineError(f"Engine {name!r} cannot be loaded: {exc}") from exc
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, Engine)):
            raise EngineError(
                f"Engine {name!r}: {self._paths[name]!r} is not a restoration engine class"
            )
        return cls

    def describe(self, name: str) -> dict[str, Any]:
        """Name, version, whether weights are needed, one-line summary and parameters.

        Imports the engine's module but does not instantiate the engine.
        Each parameter: {"kind": "int", "default", "minimum", "maximum", "choices", "help"}.
        Raises like `engine_class`.
        """
        cls = self.engine_class(name)
        summary = (cls.__doc__ or "").strip().splitlines()
        return {
            "name": name,
            "version": cls.version,
            "needs_weights": cls.needs_weights,
            "summary": summary[0] if summary else "",
            "params": {
                key: {
                    "kind": spec.kind.__name__,
                    "default": spec.default,
                    "minimum": spec.minimum,
                    "maximum": spec.maximum,
                    "choices": list(spec.choices) if spec.choices is not None else None,
                    "help": spec.help,
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
        """The process-wide instance of an engine, created (and its weights loaded) once.

        Thread-safe: concurrent first calls create a single instance.
        Raises like `engine_class`, plus whatever EngineError the engine's constructor raises.
        """
        key = (name, checkpoint, device)
        engine = self._instances.get(key)
        if engine is not None:
            return engine
        with self._lock:
            engine = self._instances.get(key)
            if engine is None:
                engine = self.engine_class(name)(checkpoint=checkpoint, device=device)
                self._instances[key] = engine
            return engine
