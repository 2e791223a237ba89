"""Holds the viewer's Streamlit script alone in its folder: ``streamlit run`` puts the script's folder on
``sys.path``, and the package folder would let ``gazekit/types.py`` or ``gazekit/io.py`` shadow the standard
library."""
