"""The small interface every restoration engine implements, and its errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

ProgressCallback = Callable[[int, int, np.ndarray | None], None]
"""`on_progress(step, total, preview)`: step counts from 0 up to total (step == total once, at
the end); preview is None or an (h, w, 3) uint8 RGB estimate of the whole image, which the
pipeline shrinks. The engine may reuse the preview's buffer, so the callback encodes or copies it
before returning. The callback may raise `Cancelled` to stop the engine."""

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class Cancelled(Exception):
    """Raised by a progress callback to stop an engine; engines let it through untouched."""


class EngineError(ValueError):
    """Bad input or parameters for an engine; the message is meant for the user."""


class UnknownEngine(EngineError):
    """No engine of that name is registered."""


@dataclass(frozen=True)
class Param:
    """One declared engine parameter.

    kind is int, float, bool or str; minimum/maximum bound numbers (inclusive), choices lists
    the allowed values; help is one line for forms and `describe`.
    """

    kind: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    help: str = ""

    def allowed(self) -> str:
        """Human description of the allowed values, e.g. "an integer from 1 to 50"."""
        noun = {int: "an integer", float: "a number", bool: "true or false", str: "a text"}
        text = noun.get(self.kind, self.kind.__name__)
        if self.choices is not None:
            return "one of " + ", ".join(str(choice) for choice in self.choices)
        if self.minimum is not None and self.maximum is not None:
            return f"{text} from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"{text} of at least {self.minimum}"
        if self.maximum is not None:
            return f"{text} of at most {self.maximum}"
        return text

    def convert(self, name: str, value: object) -> Any:
        """The value as `kind`, strings from the command line included; EngineError if not."""
        wrong = EngineError(f"Parameter {name!r} must be {self.allowed()}, got {value!r}")
        if self.kind is bool:
            if isinstance(value, bool | np.bool_):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise wrong
        # bool is an int subclass, but True as a radius is a mistake, not 1.
        if isinstance(value, bool | np.bool_):
            raise wrong
        if self.kind is int:
            if isinstance(value, int | np.integer):
                converted: Any = int(value)
            elif isinstance(value, str):
                try:
                    converted = int(value.strip())
                except ValueError:
                    raise wrong from None
            elif isinstance(value, float | np.floating) and float(value).is_integer():
                converted = int(value)
            else:
                raise wrong
        elif self.kind is float:
            try:
                converted = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise wrong from None
            if not np.isfinite(converted):
                raise wrong
        elif self.kind is str:
            if not isinstance(value, str):
                raise wrong
            converted = value
        else:
            raise wrong
        if self.choices is not None and converted not in self.choices:
            raise wrong
        if self.minimum is not None and converted < self.minimum:
            raise wrong
        if self.maximum is not None and converted > self.maximum:
            raise wrong
        return converted


class Engine(ABC):
    """Base class of restoration engines: declared parameters plus one `restore` method.

    Subclasses set `name` (the registry key, = module name), `version` (bumped whenever the
    output for the same input, seed and parameters changes), `params`, and `needs_weights`
    when they cannot run without a checkpoint. `requires_intact` is True for engines that
    reconstruct from the intact pixels (all classical ones) and so refuse a mask that marks
    everything. Heavy imports (torch, diffusers) belong inside methods, never at module top,
    because the registry imports the module to describe the engine.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    needs_weights: ClassVar[bool] = False
    requires_intact: ClassVar[bool] = True
    params: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, *, checkpoint: str | None = None, device: str = "cpu") -> None:
        """Load what the engine needs once (weights from `checkpoint` onto `device`).

        Raises EngineError when weights are needed and no checkpoint is given.
        """
        if self.needs_weights and not checkpoint:
            raise EngineError(f"Engine {self.name!r} needs a checkpoint")
        self.checkpoint = checkpoint
        self.device = device

    @classmethod
    def clean_params(cls, params: Mapping[str, object] | None) -> dict[str, Any]:
        """Declared parameters with defaults applied and values converted to their kind.

        Strings are converted ("12" -> 12, "true" -> True) so command-line values work.
        A class method, so the web process can check a job's parameters without loading the
        engine. Raises EngineError naming the parameter for unknown names and out-of-range
        values.
        """
        params = dict(params or {})
        unknown = sorted(set(params) - set(cls.params))
        if unknown:
            known = ", ".join(sorted(cls.params)) or "none"
            raise EngineError(
                f"Unknown parameter {unknown[0]!r} for engine {cls.name!r}; "
                f"its parameters are: {known}"
            )
        return {
            key: spec.convert(key, params[key]) if key in params else spec.default
            for key, spec in cls.params.items()
        }

    @abstractmethod
    def restore(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        *,
        seed: int,
        params: dict[str, Any],
        on_progress: ProgressCallback,
    ) -> np.ndarray:
        """Restore the damaged pixels of one image.

        image: (H, W, 3) uint8 RGB, read-only; the values under the mask are meaningless.
        mask: (H, W) bool, True = damaged (to restore), with at least one True.
        seed: non-negative int; equal inputs, seed and params give byte-equal output.
        params: as returned by `clean_params`.
        on_progress: called at least once per step, epoch or tile, ending with step == total;
            a `Cancelled` it raises must propagate.
        Returns (H, W, 3) uint8 RGB; the caller keeps only the pixels under the mask.
        Raises EngineError for inputs the engine cannot handle.
        """
