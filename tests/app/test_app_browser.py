"""The viewer in a real browser: ``streamlit run`` on loopback, Debian chromium driven by playwright.

Run with ``pytest -m browser`` (``make test-browser``). Needs ``chromium`` on PATH (``apt-get install chromium``)
and ``pip install playwright``; ``playwright install`` is never needed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gazekit.app import launcher as app_launcher
from tests.app.conftest import humans_csv, jpeg, png, textured
from tests.app.test_app_photo import PHOTO_H, PHOTO_W, boxes_csv, two_people

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``streamlit run`` of the packaged page (the ``gazekit app`` command line) on a free loopback port."""
    pytest.importorskip("streamlit")
    port = _free_port()
    cmd = app_launcher.build_command(
        argparse.Namespace(port=port, address="127.0.0.1", browser=False, max_upload_mb=None)
    )
    cmd.append("--server.fileWatcherType=none")
    log = (tmp_path / "streamlit.log").open("wb")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise AssertionError(f"streamlit did not come up:\n{(tmp_path / 'streamlit.log').read_text()}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def file_input(page, label: str):  # noqa: ANN001, ANN201 - playwright Page -> Locator
    """The file input of the uploader whose label starts with ``label`` (the sidebar has uploaders too)."""
    return page.locator("[data-testid=stFileUploader]").filter(has_text=label).locator("input[type=file]")


def choose(page, key: str, option: str) -> None:  # noqa: ANN001
    """Pick ``option`` (a regular expression on its text) in the Streamlit selectbox with widget ``key``."""
    settle(page)
    page.locator(f".st-key-{key} input").click()
    page.get_by_role("option", name=re.compile(option)).first.click()
    settle(page)


def type_into(page, label: str, value: str) -> None:  # noqa: ANN001
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


def settle(page) -> None:  # noqa: ANN001
    """Wait until the script has finished rerunning (a click during a rerun can be lost)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')")


def wait_for_image(page) -> None:  # noqa: ANN001
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=stImage] img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )


def test_upload_predict_overlay_and_score_in_chromium(server: str, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no `chromium` on PATH (Debian: apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    image = tmp_path / "street.png"
    image.write_bytes(png(textured(300, 400)))
    humans = tmp_path / "humans.csv"
    humans.write_bytes(humans_csv("street.png", 400, 300))
    t0 = time.monotonic()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(60_000)
            page.goto(server)
            page.get_by_text("Upload one or more images").wait_for()
            file_input(page, "Images").set_input_files(str(image))
            page.get_by_text("Free viewing").click()
            predict = page.get_by_role("button", name=re.compile(r"^Predict"))
            predict.wait_for()
            page.wait_for_function(
                "() => [...document.querySelectorAll('button')].some(b => /^Predict/.test(b.innerText) && !b.disabled)"
            )
            predict.click()
            overlay = page.locator("[data-testid=stImage] img").first
            overlay.wait_for()
            page.get_by_text("predicted fixations").first.wait_for()
            page.wait_for_function(
                "() => { const i = document.querySelector('[data-testid=stImage] img');"
                " return i && i.complete && i.naturalWidth > 0; }"
            )
            assert overlay.evaluate("img => img.naturalWidth") == 400  # the overlay at the image's size
            file_input(page, "Human scanpaths").set_input_files(str(humans))
            table = page.locator("[data-testid=stTable]").filter(has_text="human consistency")
            table.wait_for()
            text = table.inner_text()
            assert "scanmatch" in text or "ss" in text
            assert "n=3" in text  # the ceiling over three subjects
            page.get_by_role("button", name="Overlay (PNG)").wait_for()
            assert page.locator("[data-testid=stException]").count() == 0
            page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "viewer.png").stat().st_size > 10_000
    print(f"browser flow took {time.monotonic() - t0:.1f} s")


def test_photo_to_oat_with_a_boxes_file_and_several_people_in_chromium(server: str, tmp_path: Path) -> None:
    """A user's photo: OAT over the objects of an uploaded boxes file, then two people's gaze in two colours."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no `chromium` on PATH (Debian: apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(textured(PHOTO_H, PHOTO_W, seed=11)))
    boxes = tmp_path / "cup.csv"
    boxes.write_bytes(boxes_csv("photo.jpg")[0])
    people = tmp_path / "people.png"
    people.write_bytes(png(two_people()))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(90_000)
            page.goto(server)
            page.get_by_text("Upload one or more images").wait_for()
            file_input(page, "Images").set_input_files(str(photo))
            choose(page, "model", r"^oat")
            page.get_by_text("Weights: synthetic-data").wait_for()
            page.get_by_text("not on real images").wait_for()  # the shipped weights never saw a photo
            type_into(page, "Target category", "cup")
            page.get_by_text("Box (typed)").click()
            for label, v in (("x", "500"), ("y", "200"), ("width", "200"), ("height", "180")):
                type_into(page, label, v)
            settle(page)  # an upload sent while the last typed value reruns the script can be lost
            file_input(page, "Objects on the image").set_input_files(str(boxes))
            page.get_by_text("cup.csv").first.wait_for()  # the upload is in before predicting
            settle(page)
            page.get_by_role("button", name=re.compile(r"^Predict")).click()
            try:
                page.get_by_text("objects: 4 boxes from cup.csv").wait_for()
            except Exception:
                page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
                raise
            page.get_by_text("predicted fixations").first.wait_for()
            wait_for_image(page)
            assert page.locator("[data-testid=stException]").count() == 0
            assert page.locator("[data-testid=stAlertContentError]").count() == 0
            page.screenshot(path=str(tmp_path / "oat.png"), full_page=True)

            page.get_by_text("Gaze following").click()
            settle(page)
            file_input(page, "Images").set_input_files(str(people))
            page.get_by_text("people.png").first.wait_for()
            choose(page, "image_choice", r"people\.png")  # the photo is still uploaded: show the people
            choose(page, "model", r"^head-cone")
            page.get_by_text("Detect heads").click()
            page.get_by_text("2 head(s) detected").wait_for()
            settle(page)
            page.get_by_role("button", name=re.compile(r"^Predict")).click()
            table = page.locator("[data-testid=stTable]").filter(has_text="person")
            table.wait_for()
            assert "#0" in table.inner_text() and "#1" in table.inner_text()
            page.get_by_text("heatmap of #0").wait_for()
            settle(page)
            choose(page, "gaze_person", r"person #1")
            page.get_by_text("heatmap of #1").wait_for()
            wait_for_image(page)
            assert page.locator("[data-testid=stException]").count() == 0
            page.screenshot(path=str(tmp_path / "people.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "oat.png").stat().st_size > 10_000 and (tmp_path / "people.png").stat().st_size > 10_000
