"""Configuration, read once into a frozen, validated object.

Environment variable names are the ones template.yaml sets (``FACEANON_*``). Per-request overrides (API
parameters, CLI flags) go through :meth:`Settings.override`, which validates the same way.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args

from .errors import InvalidRequestError
from .images import PNG_COMPRESS_LEVEL
from .strategy import get_strategy

Method = Literal["fill", "blur", "pixelate"]
Shape = Literal["ellipse", "box"]
Detection = Literal["default", "fast", "thorough"]

METHODS: tuple[str, ...] = get_args(Method)
SHAPES: tuple[str, ...] = get_args(Shape)
DETECTIONS: tuple[str, ...] = get_args(Detection)

_COLOUR = re.compile(r"^(noise|#[0-9a-fA-F]{6})$")
_NAMED_COLOURS = {"black": "#000000", "white": "#ffffff", "grey": "#808080", "gray": "#808080"}

# env var -> field name; template.yaml's Globals use exactly these names.
ENV_VARS: Mapping[str, str] = {
    "FACEANON_METHOD": "method",
    "FACEANON_SHAPE": "shape",
    "FACEANON_FILL": "fill",
    "FACEANON_MASK_SCALE": "mask_scale",
    "FACEANON_THRESHOLD": "threshold",
    "FACEANON_DETECTION": "detection",
    "FACEANON_MAX_PIXELS": "max_pixels",
    "FACEANON_MAX_BYTES": "max_bytes",
    "FACEANON_JPEG_QUALITY": "jpeg_quality",
    "FACEANON_PNG_COMPRESS_LEVEL": "png_compress_level",
    "FACEANON_THREADS": "intra_op_threads",
    "FACEANON_MODEL_PATH": "model_path",
}

# The settings a single request may change, with the type of each: the CLI flags, the API's JSON fields and
# query parameters and the backfill job's userArguments are these names, parsed and validated by
# Settings.with_options. Limits, threads and the model stay the deployment's.
REQUEST_OPTIONS: Mapping[str, type] = {
    "method": str,
    "shape": str,
    "fill": str,
    "mask_scale": float,
    "threshold": float,
    "detection": str,
    "jpeg_quality": int,
}
# Inclusive ranges of the numeric request options (Settings checks them; openapi.yaml publishes them).
OPTION_RANGES: Mapping[str, tuple[float, float]] = {
    "mask_scale": (0.5, 3.0),
    "threshold": (0.01, 0.99),
    "jpeg_quality": (1, 100),
}


@dataclass(frozen=True)
class Settings:
    method: Method = "fill"
    shape: Shape = "ellipse"
    fill: str = "#000000"  # "#rrggbb" or "noise" (fresh random noise per face)
    # Mask size relative to the detected box. 1.5 measured on ../shared/data (default detection): faces >= 40 px
    # with >= 90% of their pixels masked 97.8% (1.3: 96.2%), 20-40 px 98.0% (1.3: 96.3%).
    mask_scale: float = 1.5
    threshold: float | None = None  # None: the detection strategy's own (see effective_threshold)
    detection: Detection = "default"  # "fast" trades small-face recall for speed, "thorough" speed for recall
    max_pixels: int = 50_000_000
    max_bytes: int = 50 * 1024 * 1024
    jpeg_quality: int = 90
    png_compress_level: int = PNG_COMPRESS_LEVEL  # zlib 0-9: 1 encodes ~4x faster than 6 for ~7% more bytes
    intra_op_threads: int = 1  # one Lambda vCPU per ~1.8 GB of memory
    model_path: str | None = None

    def __post_init__(self) -> None:
        fill = _NAMED_COLOURS.get(self.fill.lower(), self.fill)
        object.__setattr__(self, "fill", fill)
        checks = (
            (self.method in METHODS, f"method must be one of {', '.join(METHODS)}"),
            (self.shape in SHAPES, f"shape must be one of {', '.join(SHAPES)}"),
            (self.detection in DETECTIONS, f"detection must be one of {', '.join(DETECTIONS)}"),
            (bool(_COLOUR.match(fill)), "fill must be a colour name, #rrggbb or noise"),
            (
                _is_number(self.mask_scale) and _in_range("mask_scale", self.mask_scale),
                "mask_scale must be in [0.5, 3]",
            ),
            (
                self.threshold is None or (_is_number(self.threshold) and _in_range("threshold", self.threshold)),
                "threshold must be in [0.01, 0.99]",
            ),
            (_is_int(self.max_pixels) and 1 <= self.max_pixels <= 500_000_000, "max_pixels out of range"),
            (_is_int(self.max_bytes) and 1 <= self.max_bytes <= 1 << 31, "max_bytes out of range"),
            (
                _is_int(self.jpeg_quality) and _in_range("jpeg_quality", self.jpeg_quality),
                "jpeg_quality must be in [1, 100]",
            ),
            (
                _is_int(self.png_compress_level) and 0 <= self.png_compress_level <= 9,
                "png_compress_level must be in [0, 9]",
            ),
            (_is_int(self.intra_op_threads) and 1 <= self.intra_op_threads <= 64, "threads must be in [1, 64]"),
        )
        for ok, message in checks:
            if not ok:
                raise InvalidRequestError(message)

    @property
    def effective_threshold(self) -> float:
        """The acceptance threshold detection uses: the one set, else the strategy's own tuned value."""
        return self.threshold if self.threshold is not None else get_strategy(self.detection).threshold

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, field_name in ENV_VARS.items():
            raw = env.get(name)
            if raw is not None and raw != "":
                values[field_name] = _parse(field_name, raw, name)
        return cls(**values)

    def override(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (None means keep); validated like the original."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise InvalidRequestError(f"unknown setting: {sorted(unknown)[0]}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def with_options(self, options: Mapping[str, object], *, what: str = "option", typed: bool = False) -> "Settings":
        """A copy with REQUEST_OPTIONS applied. Values are text (query parameters, userArguments), parsed to the
        option's type, or with ``typed`` JSON values that must already have it. ``what`` names them in errors."""
        changes: dict[str, Any] = {}
        for name, value in options.items():
            kind = REQUEST_OPTIONS.get(name)
            if kind is None:
                raise InvalidRequestError(f"unknown {what} {name}; allowed: {', '.join(REQUEST_OPTIONS)}")
            changes[name] = _option_value(name, kind, value, typed)
        return self.override(**changes)


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _parse(field_name: str, raw: str, env_name: str) -> Any:
    kind = _FIELD_TYPES[field_name]
    try:
        if kind is float or kind == float | None:
            return float(raw)
        if kind is int:
            return int(raw)
    except ValueError as exc:
        raise InvalidRequestError(f"{env_name} must be a number") from exc
    return raw


def _option_value(name: str, kind: type, value: object, typed: bool) -> Any:
    if isinstance(value, str) and kind is not str and not typed:
        try:
            return kind(value.strip())
        except ValueError as exc:
            raise InvalidRequestError(f"{name} must be {'an integer' if kind is int else 'a number'}") from exc
    if kind is str and isinstance(value, str):
        return value
    if kind is float and _is_number(value):
        return value
    if kind is int and _is_int(value):
        return value
    raise InvalidRequestError(f"{name} has the wrong type (expected {'text' if kind is str else kind.__name__})")


def _in_range(name: str, value: float) -> bool:
    low, high = OPTION_RANGES[name]
    return low <= value <= high


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
