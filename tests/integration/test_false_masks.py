"""False masks on photos with no face: scikit-image's face-free sample photos (shipped on PyPI, always here).

Issue 5's bar is at most 0.5 false masks per face-free photo for both detection strategies.
"""

import numpy as np
import pytest

from faceanon.detector import CenterFaceDetector
from faceanon.evaluation import load_rgb, skimage_face_free

MAX_FALSE_PER_PHOTO = 0.5


@pytest.mark.parametrize("detection", ["default", "fast"])
def test_face_free_photos_get_at_most_half_a_mask_each(real_detector: CenterFaceDetector, detection: str) -> None:
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
