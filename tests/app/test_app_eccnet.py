"""The viewer with eccNET and IVSN (no model-specific code in the app): a photo searched for an uploaded target
crop, and a gallery display searched with its own target."""

from __future__ import annotations

import numpy as np
import pytest

from gazekit.app import inputs, prediction
from gazekit.io import parse_scanpaths
from tests.app.conftest import png, textured
from tests.app.test_app_flows import download, errors, upload


def _ready(name: str) -> None:
    if not any(r.name == name and r.bundled for r in prediction.model_rows("search")):
        pytest.skip(f"{name} or its shipped checkpoint is not in this install")


@pytest.mark.slow
def test_eccnet_on_a_photo_with_a_target_crop(app, media) -> None:  # noqa: ANN001
    _ready("eccnet")
    image = textured(160, 200, seed=3)
    image[100:130, 140:180] = (240, 20, 20)
    upload(app, ("photo.png", png(image)))
    app.selectbox(key="model").set_value("eccnet").run()
    app.radio(key="target_mode").set_value("crop").run()
    crop = np.ascontiguousarray(image[100:130, 140:180])
    app.file_uploader(key="target_crop").set_value(("t.png", png(crop), "image/png")).run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) >= 2 and (sp.x[0], sp.y[0]) == (100, 80)  # the centre start, then the search


@pytest.mark.slow
def test_ivsn_on_a_gallery_display(app, media) -> None:  # noqa: ANN001
    _ready("ivsn")
    try:
        inputs.gallery_world(n_displays=1, n_subjects=2)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"the synthetic gallery is not available in this tree: {e}")
    app.radio(key="source").set_value("Gallery").run()
    app.selectbox(key="model").set_value("ivsn").run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) >= 2 and np.isfinite(sp.x).all()
