"""The small interface every restoration engine implements, and its errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np

PreviewRenderer = Callable[[], np.ndarray]
"""Renders the engine's current estimate of the whole image: (h, w, 3) uint8 RGB, any size.

Called only by a reporter that wants a preview now, and only during the progress call it was
passed to; the engine may reuse the returned buffer afterwards, so the reporter encodes or
copies it before returning."""


class ProgressCallback(Protocol):
    """`on_progress(step, total, *, preview=None)`, called at least once per step, epoch or tile.

    step counts from 0 up to total (step == total once, at the end). preview is None or a
    `PreviewRenderer`: engines pass a cheap closure, and the reporter decides whether rendering
    is worth it (thinning and scaling happen there, in one place). The callback may raise
    `Cancelled` (or a time-limit exception) to stop the engine, which lets it through.
    """

    def __call__(
        self, step: int, total: int, *, preview: PreviewRenderer | None = None
    ) -> None: ...


class Restored(NamedTuple):
    """What an engine returns: the image and what is needed to reproduce it."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    info: dict[str, Any]  # JSON-serialisable: scheduler, steps, model id, library versions...


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
    the allowed values; help is one line for forms and `describe`; label names it in forms.
    """

    kind: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    help: str = ""
    # What forms call it ("Patch size"); empty: the name with its underscores as spaces.
    label: str = ""

    def title(self, name: str) -> str:
        """The label forms show for the parameter called `name`."""
        return self.label or name.replace("_", " ").capitalize()

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

    Engines own their random generators (`numpy.random.default_rng(seed)`,
    `torch.Generator(device).manual_seed(seed)`) and never seed process-wide ones: jobs run in
    threads of the server next to each other.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    # What the engine does: "restore" (fills the damaged pixels of `restore`'s mask) or
    # "stylize" (re-renders the whole image in a style: StyleEngine.stylize, no mask).
    task: ClassVar[str] = "restore"
    needs_weights: ClassVar[bool] = False
    requires_intact: ClassVar[bool] = True
    params: ClassVar[Mapping[str, Param]] = {}

    def __init__(
        self,
        *,
        options: Mapping[str, Any] | None = None,
        checkpoint: str | None = None,
        device: str = "cpu",
    ) -> None:
        """Load what the engine needs once (weights from `checkpoint` onto `device`).

        options: the engine's "OPTIONS" from settings.RESTORATION_ENGINES (model directory,
        dtype, scheduler...). checkpoint: a local file or folder path, or a Hugging Face model
        id (see `restoration.checkpoints.local_path`). device: a resolved device, "cpu" or
        "cuda"/"cuda:N" (jobs give engines without weights "cpu"). Raises EngineError when
        weights are needed and no checkpoint is given.
        """
        if self.needs_weights and not checkpoint:
            raise EngineError(f"Engine {self.name!r} needs a checkpoint")
        self.options: dict[str, Any] = dict(options or {})
        self.checkpoint = checkpoint
        self.device = device

    def close(self) -> None:  # noqa: B027 (optional hook: most engines hold nothing)
        """Release what the engine holds (GPU memory); called by the registry on eviction.

        The engine is not used after close. The default holds nothing and does nothing.
        """

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
    ) -> Restored:
        """Restore the damaged pixels of one image.

        image: (H, W, 3) uint8 RGB, read-only; the values under the mask are meaningless.
        mask: (H, W) bool, True = damaged (to restore), with at least one True.
        seed: non-negative int; equal inputs, seed and params give byte-equal output on the
            same device; the engine seeds its own generators with it.
        params: as returned by `clean_params`.
        on_progress: called at least once per step, epoch or tile, ending with step == total,
            with `preview=` a renderer of the current estimate where the engine has one;
            a `Cancelled` it raises must propagate.
        Returns Restored(image (H, W, 3) uint8 RGB, info): the caller keeps only the pixels
        under the mask; info is a JSON-serialisable dict of what reproduces the result.
        Raises EngineError for inputs the engine cannot handle.
        """


class StyleEngine(Engine):
    """Base class of style-transfer engines (CycleGAN, CUT): the whole image is re-rendered.

    Jobs, checkpoints, progress and provenance are those of restoration engines; only the
    call differs: `stylize(image, ...)` takes no mask and every output pixel is new (results
    have no outline of a reconstructed area). `restore` is refused with an EngineError.
    """

    task: ClassVar[str] = "stylize"
    requires_intact: ClassVar[bool] = False

    def restore(self, image, mask, *, seed, params, on_progress) -> Restored:
        raise EngineError(f"Engine {self.name!r} transfers a style; it does not restore damage")

    @abstractmethod
    def stylize(
        self,
        image: np.ndarray,
        *,
        seed: int,
        params: dict[str, Any],
        on_progress: ProgressCallback,
    ) -> Restored:
        """Render one image in the engine's style.

        image: (H, W, 3) uint8 RGB, read-only, any size. seed, params, on_progress: as for
        `Engine.restore` (one report per tile at least, with a preview of the picture so far).
        Returns Restored(image of the input's exact (H, W, 3) uint8 shape, info).
        """
