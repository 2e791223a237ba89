"""Fixtures of the viewer tests: the page under AppTest, the bytes behind its images and downloads, test images."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gazekit.app.launcher import app_path

#: the script `gazekit app` hands to `streamlit run`: the tests drive what users run
APP_SCRIPT = app_path()
#: Streamlit's deployment entry (`streamlit run app/streamlit_app.py`)
DEPLOY_SCRIPT = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
#: AppTest's default is 3 s; the first run imports torch and the models
APP_TIMEOUT = float(os.environ.get("GAZEKIT_APP_TEST_TIMEOUT", "60"))


def png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def jpeg(image: np.ndarray, orientation: int | None = None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(image)
    if orientation is None:
        im.save(buf, "JPEG", quality=90)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB image (compresses well, has structure for the similarity baselines)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = (rng.random((max(2, h // 16), max(2, w // 16), 3)) * 255).astype(np.uint8)
    return np.ascontiguousarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def humans_csv(stimulus: str, w: int, h: int, subjects: int = 3, n: int = 6, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    rows = ["stimulus,subject,task,condition,fixation,x,y,duration_ms"]
    for s in range(subjects):
        for i in range(n):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            rows.append(f"{stimulus},{s + 1},,freeview,{i},{x:.1f},{y:.1f},{rng.uniform(120, 400):.0f}")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], bytes]:
    """``fetch(url)``: the bytes behind an ``st.image`` / ``st.download_button`` URL of an AppTest run."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    store: dict[str, bytes] = {}
    orig = MemoryMediaFileStorage.load_and_get_id

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):  # noqa: ANN001, ANN202
        file_id = orig(self, path_or_data, mimetype, kind, filename)
        store[file_id] = path_or_data if isinstance(path_or_data, bytes) else Path(path_or_data).read_bytes()
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load_and_get_id)

    def fetch(url: str) -> bytes:
        return store[Path(url).stem]

    return fetch


@pytest.fixture
def app():  # noqa: ANN201 - AppTest
    """A fresh page (run once), with uploads enabled and a generous timeout."""
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=APP_TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at
