"""The gazekit viewer (Streamlit), one module per concern.

* :mod:`~gazekit.app.launcher`: ``gazekit app`` (``streamlit run`` on :func:`~gazekit.app.launcher.app_path`).
* :mod:`~gazekit.app.page`: the page (widgets, caches, error boundaries); run by ``script/streamlit_app.py``,
  alone in its folder so that gazekit's ``types.py``/``io.py`` never shadow the standard library.
* :mod:`~gazekit.app.inputs` (images, gallery, task), :mod:`~gazekit.app.prediction` (models, predictions),
  :mod:`~gazekit.app.overlays` (drawing), :mod:`~gazekit.app.humans` (human scanpaths, scores),
  :mod:`~gazekit.app.downloads` (files offered), :mod:`~gazekit.app.limits` (upload limits).

Only the page imports Streamlit; importing this package imports nothing.
"""
