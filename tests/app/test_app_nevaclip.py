"""NevaClip in the viewer (no model-specific page code): its shipped synthetic-data CLIP predicts on an uploaded
photo (free viewing, search by category) and on a gallery display, and is labelled as synthetic-data weights."""

from __future__ import annotations

import numpy as np
import pytest

from gazekit.app import inputs
from gazekit.io import parse_scanpaths
from tests.app.conftest import png, textured
from tests.app.test_app_flows import download, errors, upload


def _nevaclip(app) -> None:  # noqa: ANN001
    opts = app.selectbox(key="model").options
    if not any(o.startswith("nevaclip") for o in opts):
        pytest.skip("nevaclip is not listed for this task")
    assert "nevaclip (synthetic-data weights)" in opts
    app.selectbox(key="model").set_value("nevaclip").run()


@pytest.mark.parametrize("task", ["freeview", pytest.param("category", marks=pytest.mark.slow)])
def test_nevaclip_on_an_uploaded_photo(app, media, task: str) -> None:  # noqa: ANN001
    upload(app, ("photo.png", png(textured(180, 260, seed=4))))
    if task == "freeview":
        app.radio(key="task").set_value("freeview").run()
    else:
        app.radio(key="target_mode").set_value("category").run()
        app.text_input(key="category").set_value("red circle").run()
    _nevaclip(app)
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) == 10 and ((sp.x >= 0) & (sp.x <= 260) & (sp.y >= 0) & (sp.y <= 180)).all()


def test_nevaclip_on_a_gallery_display(app, media) -> None:  # noqa: ANN001
    try:
        inputs.gallery_world(n_displays=1, n_subjects=2)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"the synthetic gallery is not available in this tree: {e}")
    app.radio(key="source").set_value("Gallery").run()
    _nevaclip(app)
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) == 10 and np.isfinite(sp.x).all()
