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
from tests.app.conftest import humans_csv, png, textured

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
            page.locator("input[type=file]").first.set_input_files(str(image))
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
            # the human scanpaths uploader is the second file input once the prediction is shown
            page.locator("input[type=file]").nth(1).set_input_files(str(humans))
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
