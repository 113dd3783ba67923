"""Real ``faceanon.service.AnonymiseResult`` objects for tests that stand in for the service."""

from typing import Any

from faceanon.service import AnonymiseResult, Face

# Two faces: one rounds (1.04 -> 1.0, 0.91234 -> 0.9123), one scores low enough to be flagged for review.
FACES = (Face((1.04, 2.0, 30.0, 40.0), 0.91234), Face((5.0, 6.0, 7.0, 8.0), 0.25))


def make_result(image: bytes = b"ANON", **changes: Any) -> AnonymiseResult:
    """A JPEG result with FACES, fill/ellipse and a low_score review; ``changes`` overrides any field."""
    fields: dict[str, Any] = {
        "image": image,
        "content_type": "image/jpeg",
        "format": "JPEG",
        "width": 64,
        "height": 48,
        "faces": FACES,
        "method": "fill",
        "shape": "ellipse",
        "mask_scale": 1.3,
        "threshold": 0.2,
        "model_sha256": "ab" * 32,
        "timings_ms": {"detect": 1.0, "total": 2.0},
        "review": True,
        "review_reasons": ("low_score",),
        "frames": 1,
    }
    fields.update(changes)
    return AnonymiseResult(**fields)
