"""NevaClip in the viewer: its shipped synthetic-data CLIP predicts on an uploaded photo (caption, free viewing,
search by category) and on a gallery display, and is labelled as synthetic-data weights."""

from __future__ import annotations

import numpy as np
import pytest

from gazekit.io import parse_scanpaths
from tests.app.conftest import png, textured
from tests.app.test_app_flows import download, errors, upload


def _nevaclip(app) -> None:  # noqa: ANN001
    assert "nevaclip (synthetic-data weights)" in app.selectbox(key="model").options
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
    app.radio(key="source").set_value("Gallery").run()
    _nevaclip(app)
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) == 10 and np.isfinite(sp.x).all()


def test_nevaclip_caption_task_on_an_uploaded_photo(app, media) -> None:  # noqa: ANN001
    upload(app, ("photo.png", png(textured(180, 260, seed=4))))
    app.radio(key="task").set_value("caption").run()
    assert app.selectbox(key="model").value.startswith("nevaclip")  # the caption model is preselected
    app.button(key="predict").click().run()
    assert any("needs a caption" in e for e in errors(app))  # nothing typed: named, nothing predicted
    app.text_input(key="caption_text").set_value("a red circle with stripes").run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) == 10 and sp.task == "a red circle with stripes"
    assert ((sp.x >= 0) & (sp.x <= 260) & (sp.y >= 0) & (sp.y <= 180)).all()
