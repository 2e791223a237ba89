"""The viewer with GazeSeg's shipped checkpoint: a rendered scene with a typed head box gives a target mask drawn
in the person's colour, its class in the table and the JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazekit.app import prediction
from gazekit.datasets.synthetic.gaze import GAZE_CATEGORIES, render_gaze_scene
from tests.app.conftest import png
from tests.app.test_app_flows import decode, download, errors, upload


def test_gazeseg_draws_the_mask_and_names_the_object(app, media) -> None:  # noqa: ANN001
    if not any(r.name == "gazeseg" and r.bundled for r in prediction.model_rows("gaze")):
        pytest.skip("GazeSeg or its shipped checkpoint is not in this install")
    sc = render_gaze_scene(1, seed=0, split="test")
    a = next(a for a in sc.annotations if a.inout == 1)
    upload(app, ("scene.png", png(sc.image)))
    app.radio(key="task").set_value("gaze").run()
    app.selectbox(key="model").set_value("gazeseg").run()
    for k, v in zip(("head_x1", "head_y1", "head_x2", "head_y2"), a.head_box, strict=True):
        app.number_input(key=k).set_value(int(round(v))).run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    rec = json.loads(media(download(app, "dl_gaze").proto.url))["people"][0]
    assert rec["category"] in GAZE_CATEGORIES
    assert any("looked-at object" in t.value.columns for t in app.table)
    overlay = decode(media(download(app, "dl_png").proto.url))
    assert overlay.shape == sc.image.shape
    assert np.abs(overlay.astype(int) - sc.image.astype(int)).sum() > 0
