"""Coverage-guided fuzzing of decode -> anonymise -> encode with atheris (libFuzzer).

    python tests/property/fuzz_anonymise.py [SEED_DIR ...] -runs=N -max_total_time=S

Any exception other than a faceanon domain error is a finding: atheris prints it and exits non-zero.
The detector is a fake returning a box over the middle of every frame, so masks and encode run too.
"""

import contextlib
import sys

import atheris
import numpy as np
import numpy.typing as npt

with atheris.instrument_imports(include=["PIL", "faceanon"]):
    from faceanon.errors import FaceAnonError
    from faceanon.service import anonymise
    from faceanon.settings import Settings

SETTINGS = Settings(max_pixels=1 << 20, max_bytes=1 << 20)


class MiddleBox:
    model_sha256 = "fuzz"

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
    ) -> npt.NDArray[np.float32]:
        height, width = rgb.shape[:2]
        return np.asarray([[width / 4, height / 4, width * 3 / 4, height * 3 / 4, 0.9]], dtype=np.float32)


DETECTOR = MiddleBox()


def one_input(data: bytes) -> None:
    with contextlib.suppress(FaceAnonError):
        anonymise(data, SETTINGS, DETECTOR)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
