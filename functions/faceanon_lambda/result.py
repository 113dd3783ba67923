"""What the Lambda adapters read from faceanon.service's AnonymiseResult (a Protocol, so fakes fit too)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from faceanon.settings import Settings


class FaceLike(Protocol):
    @property
    def box(self) -> Sequence[float]: ...
    @property
    def score(self) -> float: ...


class ResultLike(Protocol):
    @property
    def image(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def faces(self) -> Sequence[FaceLike]: ...
    @property
    def method(self) -> str: ...
    @property
    def shape(self) -> str: ...
    @property
    def mask_scale(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def model_sha256(self) -> str: ...
    @property
    def timings_ms(self) -> Mapping[str, float]: ...
    @property
    def review(self) -> bool: ...
    @property
    def review_reasons(self) -> Sequence[str]: ...
    @property
    def frames(self) -> int: ...
    @property
    def face_count(self) -> int: ...


# service.anonymise bound to the process's detector: (image bytes, settings) -> result.
Anonymise = Callable[[bytes, Settings], ResultLike]


def boxes(result: ResultLike) -> list[dict[str, Any]]:
    """Faces as JSON: [{"box": [x1, y1, x2, y2], "score": s, "frame"?: n}] rounded for humans."""
    out = []
    for face in result.faces:
        item: dict[str, Any] = {"box": [round(float(v), 1) for v in face.box], "score": round(float(face.score), 4)}
        frame = getattr(face, "frame", 0)
        if frame:
            item["frame"] = int(frame)
        out.append(item)
    return out
