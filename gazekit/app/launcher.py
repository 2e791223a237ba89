"""``gazekit app``: start the Streamlit viewer (``streamlit run`` on the script inside the package).

The page is :mod:`gazekit.app.page`; the script handed to Streamlit is ``gazekit/app/script/streamlit_app.py``
(alone in its folder, because Streamlit puts the script's folder on ``sys.path`` and gazekit's own
``types.py``/``io.py`` must not shadow the standard library), found next to this file, so the command works
the same from a source checkout and from an installed wheel. It listens on loopback by default; pass ``--address 0.0.0.0`` to serve
other machines (the viewer has no authentication).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from gazekit.app.limits import MAX_UPLOAD_BYTES
from gazekit.errors import ConfigError

__all__ = ["add_arguments", "app_path", "build_command", "run"]


def app_path() -> Path:
    """The Streamlit script of the viewer."""
    return Path(__file__).resolve().parent / "script" / "streamlit_app.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    parser.add_argument(
        "--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)"
    )
    parser.add_argument("--browser", action="store_true", help="open a browser tab (default: headless)")
    parser.add_argument(
        "--max-upload-mb", type=int, default=None, help="largest upload Streamlit accepts (default: the viewer's limit)"
    )
    parser.add_argument("--print-command", action="store_true", help="print the streamlit command and exit")


def build_command(args: argparse.Namespace) -> list[str]:
    """The ``python -m streamlit run ...`` command line for ``args``."""
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must lie in 1..65535, got {args.port}")
    upload_mb = args.max_upload_mb or max(1, MAX_UPLOAD_BYTES // 2**20)
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        f"--server.headless={'false' if args.browser else 'true'}",
        f"--server.port={args.port}",
        f"--server.address={args.address}",
        f"--server.maxUploadSize={upload_mb}",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=viewer",
    ]


def run(args: argparse.Namespace) -> int:
    cmd = build_command(args)
    if args.print_command:
        print(" ".join(cmd))
        return 0
    if importlib.util.find_spec("streamlit") is None:
        print(
            "gazekit app: streamlit is not installed; install the app extra: pip install 'gazekit[app]'",
            file=sys.stderr,
        )
        return 2
    print(f"gazekit viewer on http://{args.address}:{args.port}  (Ctrl+C stops it)", flush=True)
    env = dict(os.environ)
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    proc = subprocess.Popen(cmd, env=env)

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, _stop)  # `kill <gazekit pid>` also stops the server
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
