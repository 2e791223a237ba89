"""The script ``gazekit app`` hands to ``streamlit run``; the page itself is :mod:`gazekit.app_main`."""

from gazekit.app_main import main

main()
