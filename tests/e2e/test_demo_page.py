"""The demo page in a real browser: Debian's Chromium driven by Playwright, against `faceanon serve`.

The server is the real CLI in a child process (template.yaml's API handler, the real detector model); the
page uploads the shipped photo through its file input. Set FACEANON_DEMO_SCREENSHOT=docs/demo.png to refresh
the README's screenshot.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason="Debian's Chromium is not installed (/usr/bin/chromium); see scripts/setup.sh"
    ),
]

# Mean absolute difference of two <img> elements' pixels, and the share of pixels that changed by > 40 levels.
_PIXEL_DIFF = """([a, b]) => {
  const size = (img) => [img.naturalWidth, img.naturalHeight];
  const [w, h] = size(a);
  const pixels = (img) => {
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0, w, h);
    return ctx.getImageData(0, 0, w, h).data;
  };
  const pa = pixels(a), pb = pixels(b);
  let total = 0, changed = 0;
  for (let i = 0; i < pa.length; i += 4) {
    const d = Math.abs(pa[i] - pb[i]) + Math.abs(pa[i + 1] - pb[i + 1]) + Math.abs(pa[i + 2] - pb[i + 2]);
    total += d / 3;
    if (d / 3 > 40) changed += 1;
  }
  return { size: [w, h], sizeB: size(b), mean: total / (w * h), changed: changed / (w * h) };
}"""


@pytest.fixture(scope="module")
def server_url(real_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`faceanon serve --port 0` in a child process; its stdout goes to a file we poll for the URL."""
    log = tmp_path_factory.mktemp("serve") / "stdout.txt"
    env = {**os.environ, "FACEANON_MODEL_PATH": str(real_model_path)}
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "faceanon.cli", "serve", "--port", "0", "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path(__file__).resolve().parents[2],  # the checkout: serve reads ./template.yaml
        )
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            match = re.search(r"demo page at (http://127\.0\.0\.1:\d+/)", log.read_text(errors="replace"))
            url = match.group(1) if match else None
            if url is None:
                if child.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"faceanon serve did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # launch() gives Chromium a fresh temporary profile (user-data-dir) and deletes it on close.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.goto(server_url)
    yield page
    context.close()
    # Console errors other than the expected failed request of an error test fail the test.
    unexpected = [p for p in problems if "the server responded with a status of 4" not in p]
    assert not unexpected, unexpected


def upload(page: Page, path: Path, completed: int = 1) -> None:
    page.set_input_files("#file", str(path))
    page.wait_for_selector(f"#result[data-completed='{completed}']")


def pixel_diff(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        _PIXEL_DIFF, [page.locator("#before").element_handle(), page.locator("#after").element_handle()]
    )
    return result


@pytest.fixture(scope="module")
def sample_path() -> Path:
    return Path(str(resources.files("faceanon").joinpath("samples", "astronaut.jpg")))


def test_upload_masks_the_face_and_shows_the_result(page: Page, sample_path: Path, tmp_path: Path) -> None:
    upload(page, sample_path)
    expect(page.locator("#result")).to_have_attribute("data-state", "done")
    faces = int(page.locator("#face-count").inner_text())
    assert faces >= 1
    expect(page.locator("#status")).to_contain_text("masked")
    expect(page.locator("#timing")).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))
    page.wait_for_function(
        "document.getElementById('after').complete && document.getElementById('after').naturalWidth > 0"
    )
    diff = pixel_diff(page)
    assert diff["size"] == diff["sizeB"] == [512, 512]
    # A face of the 512 x 512 portrait is masked: some pixels changed a lot, most of the photo did not.
    assert 0.01 < diff["changed"] < 0.5, diff
    # One overlay box per face on each picture, hidden with the toggle.
    expect(page.locator("#after-boxes rect:not(.tag)")).to_have_count(faces)
    expect(page.locator("#before-boxes rect:not(.tag)")).to_have_count(faces)
    page.get_by_label("Show detected faces").uncheck()
    expect(page.locator("#after-boxes")).to_be_hidden()
    page.get_by_label("Show detected faces").check()
    expect(page.locator("#after-boxes")).to_be_visible()
    download = page.locator("#download")
    expect(download).to_have_attribute("download", "astronaut_anonymised.jpg")
    expect(download).to_have_attribute("href", re.compile(r"^blob:"))
    shot = tmp_path / "demo.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    target = os.environ.get("FACEANON_DEMO_SCREENSHOT")
    if target:  # the README's picture: 256 colours keep it small (~150 KB)
        with Image.open(shot) as image:
            image.convert("RGB").quantize(colors=256, dither=Image.Dither.FLOYDSTEINBERG).save(target, optimize=True)


@pytest.mark.parametrize("method", ["blur", "pixelate"])
def test_changing_a_setting_reruns_with_it(page: Page, sample_path: Path, method: str) -> None:
    upload(page, sample_path)
    fill_diff = pixel_diff(page)
    page.locator(f"label[for='method-{method}']").click()
    page.wait_for_selector("#result[data-completed='2'][data-state='done']")
    page.wait_for_function(
        "document.getElementById('after').complete && document.getElementById('after').naturalWidth > 0"
    )
    diff = pixel_diff(page)
    assert int(page.locator("#face-count").inner_text()) >= 1
    assert diff["mean"] > 0.1
    # Blurring or pixelating a face changes it less than painting it black.
    assert diff["mean"] < fill_diff["mean"], (diff, fill_diff)


def test_a_file_that_is_not_an_image_gives_a_plain_error(page: Page, tmp_path: Path) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_text("these are my holiday notes, not a photo\n")
    upload(page, fake)
    expect(page.locator("#result")).to_have_attribute("data-state", "error")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("That file is not an image we can read.")
    expect(page.locator("#download")).to_be_hidden()
    expect(page.locator("#stats")).to_be_hidden()


def test_every_control_has_a_label_and_the_page_works_by_keyboard(page: Page) -> None:
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea, button")]
              .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim())
              .map((e) => e.id || e.outerHTML)"""
    )
    assert unlabelled == []
    # The sample button is reachable and usable with the keyboard alone.
    page.locator("#sample").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#result[data-completed='1'][data-state='done']")
    assert int(page.locator("#face-count").inner_text()) >= 1
    # Arrow keys move between the method radios and rerun.
    page.locator("#method-fill").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#method-blur")).to_be_checked()
    page.wait_for_selector("#result[data-completed='2'][data-state='done']")
