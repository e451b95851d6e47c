"""Exported pages in a real browser: Debian's chromium, headless, WebGL through SwiftShader, driven by
Playwright. CI installs chromium (.ci/run); without it these tests fail, they never skip."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import sync_playwright
from record_fixtures import make_recording

import render3d
from render3d.models import SeedCNN

pytestmark = pytest.mark.slow  # processes, a browser, training runs or model zoos: seconds each (-m 'not slow' skips)


CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 640, "height": 360}
BACKGROUND = (255, 255, 255)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
        )
        yield browser
        browser.close()


class Page:
    """An exported page opened from file://, with every console problem and request it made."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport=VIEWPORT)
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console", lambda m: self.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_function("window.render3d && window.render3d.ready", timeout=30_000)

    def canvas(self) -> np.ndarray:
        """The 3-D view alone (HTML overlays hidden), as an (H, W, 3) array."""
        overlays = "document.querySelectorAll('.r3d-overlay, #r3d-controls, #r3d-info, #r3d-tooltip')"
        self.page.evaluate(f"{overlays}.forEach(e => e.style.opacity = '0')")
        shot = self.page.locator("#r3d-canvas").screenshot()
        self.page.evaluate(f"{overlays}.forEach(e => e.style.opacity = '')")
        return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))

    def next_frame(self) -> None:
        self.page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


@pytest.fixture(scope="module")
def seed_page(browser, tmp_path_factory):
    torch.manual_seed(0)
    path = render3d.export(SeedCNN(), path=tmp_path_factory.mktemp("page") / "seed.html")
    page = Page(browser, path)
    yield page
    page.page.close()


@pytest.fixture(scope="module")
def recording_page(browser, tmp_path_factory):
    folder = make_recording(tmp_path_factory.mktemp("rec") / "rec", snapshots=2)
    path = render3d.export(folder, path=folder.parent / "rec.html")
    page = Page(browser, path)
    yield page
    page.page.close()


def test_page_loads_from_file_with_no_console_problem_and_no_network(seed_page):
    assert seed_page.problems == []
    outside = [u for u in seed_page.requests if u != seed_page.url and not u.startswith(("blob:", "data:"))]
    assert outside == []


def test_canvas_shows_the_model_framed_in_block_colours(seed_page):
    image = seed_page.canvas()
    assert image.shape == (360, 640, 3)
    ink = np.any(image != BACKGROUND, axis=-1)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    # the model is inside the view with background all round, and spans most of its width
    assert rows[0] > 3 and rows[-1] < 356 and cols[0] > 3 and cols[-1] < 636
    assert cols[-1] - cols[0] > 0.6 * 640
    conv = np.array([0, 114, 178])  # the Conv colour on the blocks' tops (full brightness)
    assert np.count_nonzero(np.all(np.abs(image.astype(int) - conv) <= 2, axis=-1)) > 500


def test_clicking_a_block_shows_its_details(seed_page):
    page = seed_page.page
    x, y = page.evaluate("window.render3d.blockPoint(3)")
    page.mouse.click(x, y)
    page.wait_for_selector("#r3d-info:not([hidden])")
    assert page.inner_text("#r3d-info-name") == "conv2#1 … relu#2"
    body = page.inner_text("#r3d-info-body")
    assert "type: Conv2d + relu" in body and "shape: 64×32×32" in body and "params: 36,928" in body
    page.click("#r3d-info-close")
    assert page.is_hidden("#r3d-info")


def test_recording_page_slider_changes_feature_map_pixels_and_caption(recording_page):
    page = recording_page.page
    assert recording_page.problems == []
    assert page.inner_text("#r3d-caption").startswith("epoch 2/2 · loss ")
    last = recording_page.canvas()
    page.locator("#r3d-slider").fill("0")
    recording_page.next_frame()
    first = recording_page.canvas()
    assert page.inner_text("#r3d-caption").startswith("epoch 1/2 · loss ")
    changed = np.any(first != last, axis=-1)
    assert np.count_nonzero(changed) > 2000
    # only the maps change: the background around the model stays the same
    assert not changed[:4].any() and not changed[-4:].any()
