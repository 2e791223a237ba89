"""`gazekit download`: resumable (HTTP Range), verified, atomic unpacking, safe extraction; loopback server only."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import os
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from gazekit.datasets import download as dl
from gazekit.errors import ConfigError, DownloadError


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[tuple[str, str | None]] = []
    cut_after: int | None = None  # serve only this many bytes of a full response (simulates a dropped link)
    stall_after: int | None = None  # serve this many bytes of a full response, then hang (a client to kill)
    honour_range = True

    def do_GET(self):  # noqa: N802
        data = self.files.get(self.path)
        rng = self.headers.get("Range")
        type(self).log.append((self.path, rng))
        if data is None:
            self.send_error(404)
            return
        start = 0
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.stall_after is not None and start == 0:
            self.wfile.write(body[: self.stall_after])
            self.wfile.flush()
            time.sleep(60)
            return
        if self.cut_after is not None and start == 0:
            self.wfile.write(body[: self.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *a):  # quiet
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.log, _Handler.cut_after, _Handler.honour_range = {}, [], None, True
    _Handler.stall_after = None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", _Handler
    srv.shutdown()
    srv.server_close()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def _entry(url: str, data: bytes, name="ds.zip", **kw) -> dl.DatasetEntry:
    return dl.DatasetEntry(
        "toy", "toy", url, (dl.RemoteFile(f"{url}/{name}", name, sha256=hashlib.sha256(data).hexdigest(), **kw),)
    )


def test_fetch_verifies_and_unpacks_atomically(server, tmp_path):
    url, h = server
    data = _zip_bytes({"toy/a.txt": b"hello", "toy/sub/b.txt": b"world" * 1000})
    h.files["/ds.zip"] = data
    out = dl.fetch("toy", tmp_path, entry=_entry(url, data))
    assert out == tmp_path / "toy"
    assert (out / "toy" / "a.txt").read_bytes() == b"hello"
    assert not list(tmp_path.glob(".toy.*")) and not (tmp_path / ".downloads" / "toy").exists()
    n = len(h.log)
    assert dl.fetch("toy", tmp_path, entry=_entry(url, data)) == out and len(h.log) == n  # present: no request
    dl.fetch("toy", tmp_path, entry=_entry(url, data), force=True)
    assert len(h.log) == n + 1


def test_resume_with_range_after_a_dropped_connection(server, tmp_path):
    url, h = server
    data = bytes(range(256)) * 4000  # ~1 MB
    h.files["/ds.bin"] = data
    h.cut_after = 300_000
    e = _entry(url, data, name="ds.bin")
    with pytest.raises(DownloadError, match="partial"):
        dl.fetch("toy", tmp_path, entry=e)
    part = tmp_path / ".downloads" / "toy" / "ds.bin.part"
    assert part.stat().st_size == 300_000 and not (tmp_path / "toy").exists()  # nothing half-written in place
    h.cut_after = None
    out = dl.fetch("toy", tmp_path, entry=e)
    assert (out / "ds.bin").read_bytes() == data
    assert h.log[-1] == ("/ds.bin", "bytes=300000-")


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    url, h = server
    data = b"x" * 5000
    h.files["/f.bin"] = data
    h.honour_range = False
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(b"garbage")
    dl.download_file(f"{url}/f.bin", dest, sha256=hashlib.sha256(data).hexdigest())
    assert dest.read_bytes() == data


def test_checksum_mismatch_removes_the_file(server, tmp_path):
    url, h = server
    h.files["/f.bin"] = b"tampered"
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        dl.download_file(f"{url}/f.bin", tmp_path / "f.bin", sha256="0" * 64)
    assert not list(tmp_path.iterdir())
    with pytest.raises(DownloadError, match="md5 mismatch"):
        dl.download_file(f"{url}/f.bin", tmp_path / "f.bin", md5="0" * 32)
    with pytest.raises(DownloadError, match="404"):
        dl.download_file(f"{url}/missing", tmp_path / "m")


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs.txt", "a/../../evil.txt", "C:/win.txt"])
def test_zip_paths_cannot_escape(tmp_path, bad):
    arc = tmp_path / "a.zip"
    arc.write_bytes(_zip_bytes({"ok.txt": b"1", bad: b"2"}))
    with pytest.raises(DownloadError, match="unsafe"):
        dl.safe_extract(arc, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_tar_links_and_escapes_refused(tmp_path):
    def make(add):
        arc = tmp_path / "a.tar.gz"
        with tarfile.open(arc, "w:gz") as tf:
            add(tf)
        return arc

    def sym(tf):
        ti = tarfile.TarInfo("link")
        ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(ti)

    with pytest.raises(DownloadError, match="links"):
        dl.safe_extract(make(sym), tmp_path / "o1")

    def escape(tf):
        ti = tarfile.TarInfo("../../x")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))

    with pytest.raises(DownloadError, match="unsafe"):
        dl.safe_extract(make(escape), tmp_path / "o2")

    def good(tf):
        ti = tarfile.TarInfo("d/x.txt")
        ti.size = 2
        tf.addfile(ti, io.BytesIO(b"ok"))

    dl.safe_extract(make(good), tmp_path / "o3")
    assert (tmp_path / "o3" / "d" / "x.txt").read_bytes() == b"ok"


def test_failed_unpack_leaves_nothing(server, tmp_path):
    url, h = server
    data = _zip_bytes({"../x": b"1"})
    h.files["/ds.zip"] = data
    with pytest.raises(DownloadError):
        dl.fetch("toy", tmp_path, entry=_entry(url, data))
    assert not (tmp_path / "toy").exists() and not list(tmp_path.glob(".toy.*"))


def test_registry_and_cli(tmp_path, capsys, monkeypatch):
    reg = dl.registry()
    assert {"mit1003", "amazon_covers", "coco_search18", "gazefollow", "videoattentiontarget", "capmit1003"} <= set(reg)
    # every automatic dataset file is verified by a checksum
    assert all(f.sha256 or f.md5 for e in reg.values() if e.kind == "dataset" for f in e.files)
    p = argparse.ArgumentParser()
    dl.add_arguments(p)
    assert dl.run(p.parse_args(["--list"])) == 0
    assert "mit1003" in capsys.readouterr().out
    assert dl.run(p.parse_args(["gazefollow", "--root", str(tmp_path)])) == 3  # manual download
    with pytest.raises(ConfigError):
        dl.run(p.parse_args(["nope", "--root", str(tmp_path)]))


def test_backbone_weights_entries_when_available(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("gazekit.backbones.loading")
    fake.BACKBONE_WEIGHTS = {"toy_vit": {"url": "http://127.0.0.1:9/w.safetensors", "sha256": "a" * 64},
                             "hub_only": {"repo_id": "org/model"},
                             "tok": {"filename": "vocab.json", "sha256": "b" * 64,
                                     "urls": ["http://h/vocab.json", "http://h/merges.txt"]}}  # fmt: skip
    monkeypatch.setitem(sys.modules, "gazekit.backbones.loading", fake)
    import gazekit.backbones as bb

    monkeypatch.setattr(bb, "loading", fake, raising=False)
    reg = dl.registry()
    assert reg["toy_vit"].kind == "weights" and reg["toy_vit"].files[0].filename == "w.safetensors"
    assert reg["hub_only"].manual and not reg["hub_only"].files
    assert [f.filename for f in reg["tok"].files] == ["vocab.json", "merges.txt"]
    assert all(f.sha256 is None for f in reg["tok"].files)  # one checksum cannot describe two files


def test_unverifiable_weights_warn_and_size_is_checked(server, tmp_path):
    url, h = server
    h.files["/w.bin"] = b"w" * 100
    e = dl.DatasetEntry("w", "w", url, (dl.RemoteFile(f"{url}/w.bin", "w.bin"),), kind="weights")
    with pytest.warns(UserWarning, match="cannot be verified"):
        out = dl.fetch("w", tmp_path, entry=e)
    assert (out / "w.bin").stat().st_size == 100
    with pytest.raises(DownloadError, match="size mismatch"):
        dl.download_file(f"{url}/w.bin", tmp_path / "x.bin", size=99)


def test_cli_end_to_end_against_loopback(server, tmp_path, monkeypatch, capsys):
    from gazekit.cli import main

    url, h = server
    data = _zip_bytes({"Amazon.json": b"{}"})
    h.files["/ds.zip"] = data
    monkeypatch.setitem(dl.DATASETS, "toy", _entry(url, data))
    main(["download", "toy", "--root", str(tmp_path)])
    assert (tmp_path / "toy" / "Amazon.json").read_bytes() == b"{}"
    assert str(tmp_path / "toy") in capsys.readouterr().out


_KILLED_CLIENT = """
import os, shutil, sys
from gazekit.datasets import download as dl
from gazekit.cli import main
url, sha, mode = sys.argv[1], sys.argv[2], sys.argv[4]
name = "ds.zip" if mode == "extract" else "ds.bin"
dl.DATASETS["toy"] = dl.DatasetEntry("toy", "toy", url, (dl.RemoteFile(url + "/" + name, name, sha256=sha),))
if mode == "extract":  # die in the middle of unpacking: after the first member is written
    copy = shutil.copyfileobj
    def dying(src, dst, *a):
        copy(src, dst, *a)
        os._exit(9)
    shutil.copyfileobj = dying
main(["download", "toy", "--root", sys.argv[3]])
"""


def _client(url: str, data: bytes, root, mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), GAZEKIT_NO_PROGRESS="1")
    sha = hashlib.sha256(data).hexdigest()
    return subprocess.Popen([sys.executable, "-c", _KILLED_CLIENT, url, sha, str(root), mode], env=env)


def test_a_killed_download_leaves_only_a_prefix_to_resume(server, tmp_path):
    """``gazekit download`` killed (SIGKILL) mid-transfer: nothing under the dataset's name, a ``.part`` that
    is a prefix of the file; the next run resumes it with Range and verifies the whole."""
    url, h = server
    data = bytes(range(256)) * 10_000  # 2.56 MB: the client writes whole 1 MiB chunks
    h.files["/ds.bin"], h.stall_after = data, 1_500_000
    proc = _client(url, data, tmp_path, "bin")
    part = tmp_path / ".downloads" / "toy" / "ds.bin.part"
    deadline = time.monotonic() + 120
    while not (part.is_file() and part.stat().st_size > 0) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    assert part.is_file() and 0 < part.stat().st_size < len(data)
    have = part.read_bytes()
    assert data.startswith(have)
    assert not (tmp_path / "toy").exists() and not (tmp_path / ".downloads" / "toy" / "ds.bin").exists()
    h.stall_after = None
    out = dl.fetch("toy", tmp_path, entry=_entry(url, data, name="ds.bin"))
    assert (out / "ds.bin").read_bytes() == data
    assert h.log[-1] == ("/ds.bin", f"bytes={len(have)}-")  # resumed, not restarted


def test_a_download_killed_while_unpacking_is_not_taken_for_done(server, tmp_path):
    """Killed half way through unpacking: the dataset folder does not exist (the hidden staging folder does);
    the next run unpacks again and removes the dead run's staging folder."""
    url, h = server
    data = _zip_bytes({"toy/a.txt": b"hello", "toy/b.txt": b"world" * 1000})
    h.files["/ds.zip"] = data
    proc = _client(url, data, tmp_path, "extract")
    assert proc.wait(timeout=120) == 9
    assert not (tmp_path / "toy").exists()
    (stale,) = [p for p in tmp_path.iterdir() if p.name.startswith(".toy.")]
    assert stale.is_dir() and stale.name.endswith(".tmp")
    out = dl.fetch("toy", tmp_path, entry=_entry(url, data))
    assert (out / "toy" / "b.txt").read_bytes() == b"world" * 1000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".toy.")]


def test_vitgaze_release_entries_say_where_and_how_to_convert():
    reg = dl.registry()
    for name in ("vitgaze_gazefollow", "vitgaze_videoattentiontarget"):
        e = reg[name]
        assert e.kind == "weights" and not e.files and "drive.google.com" in e.manual
        assert f"gazekit convert vitgaze FILE.pth --out $GAZEKIT_WEIGHTS_DIR/{name}.safetensors" in e.manual
