"""``gazekit app``: the command it runs and where it finds the page."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import pytest

import gazekit.app
from gazekit.app import launcher as app_launcher
from gazekit.cli import main
from tests.app.conftest import APP_TIMEOUT, DEPLOY_SCRIPT


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    app_launcher.add_arguments(p)
    return p.parse_args(list(argv))


def test_command_is_headless_on_loopback_by_default() -> None:
    cmd = app_launcher.build_command(_args())
    assert cmd[1:4] == ["-m", "streamlit", "run"]
    assert "--server.headless=true" in cmd and "--server.address=127.0.0.1" in cmd and "--server.port=8501" in cmd
    assert "--browser.gatherUsageStats=false" in cmd
    cmd = app_launcher.build_command(_args("--port", "9000", "--address", "0.0.0.0", "--browser"))
    assert "--server.port=9000" in cmd and "--server.address=0.0.0.0" in cmd and "--server.headless=false" in cmd


def test_script_is_inside_the_package_and_alone_in_its_folder() -> None:
    path = app_launcher.app_path()
    assert path.is_file() and path.parent.parent == Path(gazekit.app.__file__).parent
    # streamlit puts the script's folder on sys.path: nothing there may shadow a module (gazekit's own
    # types.py / io.py live two folders up, out of reach)
    assert [p.name for p in path.parent.iterdir() if p.name != "__pycache__"] == ["streamlit_app.py"]
    assert "streamlit_app" not in sys.stdlib_module_names


def test_both_scripts_run_the_package_page() -> None:
    """`gazekit app` and `streamlit run app/streamlit_app.py` run the same page (and nothing else)."""
    for script in (app_launcher.app_path(), DEPLOY_SCRIPT):
        tree = ast.parse(script.read_text())
        code = [
            ast.unparse(n) for n in tree.body if not isinstance(n, ast.Expr) or not isinstance(n.value, ast.Constant)
        ]
        assert code == ["from gazekit.app.page import main", "main()"], script


def test_deployment_script_renders_the_page() -> None:
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(DEPLOY_SCRIPT), default_timeout=APP_TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["gazekit viewer"]


def test_cli_prints_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    main(["app", "--print-command", "--port", "8765"])
    out = capsys.readouterr().out
    assert "streamlit run" in out and "--server.port=8765" in out


def test_bad_port_and_missing_streamlit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from gazekit.errors import ConfigError

    with pytest.raises(ConfigError):
        app_launcher.build_command(_args("--port", "0"))
    monkeypatch.setattr(app_launcher.importlib.util, "find_spec", lambda name: None)
    assert app_launcher.run(_args()) == 2
    assert "pip install 'gazekit[app]'" in capsys.readouterr().err
