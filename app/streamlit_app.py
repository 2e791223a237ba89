"""`streamlit run app/streamlit_app.py`: the gazekit viewer (the page lives in gazekit/app_main.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout works without installing

from gazekit.app_main import main  # noqa: E402

main()
