"""False masks on photos with no face: scikit-image's face-free sample photos (shipped on PyPI, always here).

The bar is at most 0.3 false masks per photo on these 23, for both detection strategies. They are the face-free
photos the thresholds were chosen with; tests/integration/test_held_out_false_masks.py checks photos nobody tuned on.
"""

import numpy as np
import pytest

from faceanon.detector import CenterFaceDetector
from faceanon_tools.evaluation import load_rgb, skimage_face_free

MAX_FALSE_PER_PHOTO = 0.3


@pytest.mark.parametrize("detection", ["default", "fast", "thorough"])
def test_face_free_photos_get_few_false_masks(real_detector: CenterFaceDetector, detection: str) -> None:
    dataset = skimage_face_free()
    if dataset is None:
        pytest.skip("scikit-image is not installed")
    assert len(dataset.images) >= 20
    counts = {
        image.path.name: len(real_detector.detect(load_rgb(image.path), detection=detection))
        for image in dataset.images
    }
    rate = float(np.mean(list(counts.values())))
    assert rate <= MAX_FALSE_PER_PHOTO, f"{rate:.2f} false masks per photo: {counts}"
