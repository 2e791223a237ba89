"""The script ``gazekit app`` hands to ``streamlit run`` (alone in its folder: see :mod:`gazekit.app`)."""

from gazekit.app.page import main

main()
