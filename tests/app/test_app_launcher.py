"""``gazekit app``: the command it runs and where it finds the page."""

from __future__ import annotations

import argparse

import pytest

from gazekit import app_launcher
from gazekit.cli import main


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
    assert path.is_file() and path.parent.parent.name == "gazekit"
    # streamlit puts the script's folder on sys.path: nothing there may shadow a module
    assert {p.name for p in path.parent.glob("*.py")} == {"__init__.py", "streamlit_app.py"}


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
