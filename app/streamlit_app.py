"""`streamlit run app/streamlit_app.py` (Streamlit's deployment convention): the page of gazekit.app."""

from gazekit.app.page import main

main()
