"""EXIF orientation, applied one way everywhere: decode and the evaluation's photo loader both call ``upright``."""

from typing import Final

from PIL import Image

from .image_formats import DECODE_ERRORS

# EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
ORIENTATION_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (0x0112) of the current frame: 1 (upright) when absent, unreadable or odd."""
    try:
        value = image.getexif().get(0x0112, 1)
    except DECODE_ERRORS:
        return 1  # unreadable EXIF: nothing of it is kept anyway
    return int(value) if isinstance(value, int) else 1


def upright(image: Image.Image) -> Image.Image:
    """The current frame, loaded and turned the way the viewer sees it (``image`` itself when already upright).

    The tag is read after load: some plugins (TIFF) apply the orientation themselves on load and drop the tag,
    so reading it first would turn such a picture twice.
    """
    image.load()
    transpose = ORIENTATION_TRANSPOSE.get(exif_orientation(image))
    return image.transpose(transpose) if transpose is not None else image
