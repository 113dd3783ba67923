"""The detector's evaluation against human-made face boxes, in three parts (all importable from here):

datasets.py (labelled sets laid out as ``annotations.json`` + ``images/``, face-free sets, the fixed dev/test
split, upright photo loading), scoring.py (WIDER FACE one-to-one matching, average precision, per-height-bin
recall tallies) and mask_coverage.py (the share of each labelled face a mask covers).
"""

from .datasets import (
    SKIMAGE_FACE_FREE,
    Dataset,
    LabelledImage,
    SplitName,
    face_free_set,
    find_datasets,
    load_dataset,
    load_rgb,
    skimage_face_free,
    split_of,
)
from .mask_coverage import ellipse_in_box, face_pixel_coverage
from .scoring import (
    HEIGHT_BINS,
    MATCH_IOU,
    Kind,
    Matching,
    RecallTally,
    average_precision,
    height_bin,
    match_detections,
    per_face_bins,
)

__all__ = [
    "HEIGHT_BINS",
    "MATCH_IOU",
    "SKIMAGE_FACE_FREE",
    "Dataset",
    "Kind",
    "LabelledImage",
    "Matching",
    "RecallTally",
    "SplitName",
    "average_precision",
    "ellipse_in_box",
    "face_free_set",
    "face_pixel_coverage",
    "find_datasets",
    "height_bin",
    "load_dataset",
    "load_rgb",
    "match_detections",
    "per_face_bins",
    "skimage_face_free",
    "split_of",
]
