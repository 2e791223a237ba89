"""``gazekit download NAME --root DIR``: fetch a dataset (or backbone weights), verified and unpacked atomically.

* Each file is downloaded to ``<root>/.downloads/<name>/<file>.part`` and **resumed** with an HTTP ``Range``
  request if that partial file exists (a server that ignores Range restarts it from zero).
* It is verified against the registry's sha256 (or md5) before it is renamed to its final name; a mismatch
  deletes it and raises :class:`~gazekit.errors.DownloadError`.
* Archives (``.zip``, ``.tar``, ``.tar.gz``/``.tgz``) are unpacked into a temporary folder next to the target
  and renamed to ``<root>/<name>`` only when complete, so an interrupted run leaves nothing half-written
  where readers look. Extraction is **safe**: absolute paths, ``..`` components, links and device files
  in an archive are refused. Non-archive files are copied into ``<root>/<name>/`` the same way.

Entries without a stable direct URL (COCO-Search18's full release, GazeFollow, VideoAttentionTarget,
CapMIT1003) are listed with their official location and manual steps; ``gazekit download`` prints those
steps and exits with status 3. Backbone weights are listed when ``gazekit.backbones.loading`` defines
``BACKBONE_WEIGHTS`` (each entry a mapping/object with ``url`` or ``urls``, ``sha256`` or ``md5``, optional
``filename`` and ``size``; entries without a URL are shown with their description only). Weight files with
no published checksum are downloaded with a warning that they could not be verified.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import sys
import tarfile
import urllib.error
import urllib.request
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

from gazekit.atomic import staging_dir
from gazekit.errors import ConfigError, DownloadError

__all__ = [
    "DATASETS",
    "DatasetEntry",
    "RemoteFile",
    "add_arguments",
    "download_file",
    "fetch",
    "registry",
    "run",
    "safe_extract",
]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it is and what it must hash to."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None  # bytes, if known (informational)


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    description: str
    homepage: str
    files: tuple[RemoteFile, ...] = ()
    manual: str | None = None  # instructions when there is nothing to fetch automatically
    citation: str = ""
    kind: str = "dataset"
    extra: dict[str, Any] = field(default_factory=dict)


_STI = "https://raw.githubusercontent.com/DFKI-Interactive-Machine-Learning/STI-Dataset/0a593dfae9a4951b1a99908a3eb997279bcc458a"
_MIT = "http://people.csail.mit.edu/tjudd/WherePeopleLook"

#: The dataset registry. Checksums: MIT1003's MD5s are those the pysaliency loader checks; Amazon.json's
#: sha256 is that of the file in the STI repository at the pinned commit.
DATASETS: dict[str, DatasetEntry] = {
    e.name: e
    for e in (
        DatasetEntry(
            "mit1003",
            "MIT1003 stimuli, raw eye data (per-subject .mat) and Judd's database code",
            f"{_MIT}/index.html",
            (
                RemoteFile(f"{_MIT}/ALLSTIMULI.zip", "ALLSTIMULI.zip", md5="0d7df8b954ecba69b6796e77b9afe4b6"),
                RemoteFile(f"{_MIT}/DATA.zip", "DATA.zip", md5="ea19d74ad0a0144428c53e9d75c2d71c"),
                RemoteFile(f"{_MIT}/Code/DatabaseCode.zip", "DatabaseCode.zip", md5="d8e5e2b6ec827f4115ddbff59b0bdf1d"),
            ),
            citation="Judd, Ehinger, Durand, Torralba: Learning to Predict Where Humans Look, ICCV 2009",
        ),
        DatasetEntry(
            "amazon_covers",
            "Amazon book-cover search fixations (STI Amazon.json; images are hosted elsewhere)",
            "https://github.com/DFKI-Interactive-Machine-Learning/STI-Dataset",
            (
                RemoteFile(
                    f"{_STI}/AmazonCovers/Amazon.json",
                    "Amazon.json",
                    sha256="631fd1769534b38b9e59bf4e1bbbe5fddc0a0bbdd45b13a7910f2545d0412c5b",
                ),
            ),
            citation="Sattar, Müller, Fritz, Bulling, CVPR 2015; Stauden, Barz, Sonntag, KI 2018 (CC BY-NC-SA 4.0)",
        ),
        DatasetEntry(
            "coco_search18",
            "COCO-Search18 fixations (TP/TA, split1/split2) and images",
            "https://sites.google.com/view/cocosearch/",
            manual=(
                "COCO-Search18 is distributed from its project site (Google Drive links, no stable direct URL). "
                "Download the fixation JSONs and the TP/TA image archives there, unpack them under "
                "<root>/coco_search18/, and read them with gazekit.datasets.coco_search18.read_coco_search18."
            ),
            citation="Yang et al., Predicting Goal-directed Human Attention Using Inverse Reinforcement Learning, CVPR 2020",
        ),
        DatasetEntry(
            "coco_freeview",
            "COCO-FreeView fixations (train/valid; the test split was never released)",
            "https://sites.google.com/view/cocosearch/",
            manual="Download COCOFreeView_fixations_trainval.json from the COCO-Search18 project site into <root>/coco_freeview/.",
        ),
        DatasetEntry(
            "gazefollow",
            "GazeFollow extended annotations and images",
            "http://gazefollow.csail.mit.edu/",
            manual=(
                "Get the extended GazeFollow release (train/, test2/, train_annotations_release.txt, "
                "test_annotations_release.txt) from the link in ejcgt/attention-target-detection's README and "
                "unpack it under <root>/gazefollow/."
            ),
            citation="Recasens et al., NeurIPS 2015; Chong et al., ECCV 2018",
        ),
        DatasetEntry(
            "videoattentiontarget",
            "VideoAttentionTarget frames and per-track annotations",
            "https://github.com/ejcgt/attention-target-detection",
            manual="Download videoattentiontarget.zip from the link in ejcgt/attention-target-detection's README and unpack it under <root>/videoattentiontarget/.",
            citation="Chong, Wang, Rehg, Rozga: Detecting Attended Visual Targets in Video, CVPR 2020",
        ),
        *(
            DatasetEntry(
                f"vitgaze_{ds}",
                f"ViTGaze's released {title} checkpoint (hustvl/ViTGaze, MIT; S/14 at 518 px)",
                "https://github.com/hustvl/ViTGaze",
                manual=(
                    f"The authors publish it on Google Drive only (https://drive.google.com/file/d/{gid}/view, "
                    "linked from the hustvl/ViTGaze README; no direct URL or checksum). Download it, then convert "
                    f"it: `gazekit convert vitgaze FILE.pth --out $GAZEKIT_WEIGHTS_DIR/vitgaze_{ds}.safetensors` "
                    "(gazekit then uses it instead of its synthetic-data weights; `gazekit models` says so)."
                ),
                citation="Song et al., ViTGaze: Gaze Following with Interaction Features in Vision Transformers, 2024",
                kind="weights",
            )
            for ds, title, gid in (
                ("gazefollow", "GazeFollow", "164c4woGCmUI8UrM7GEKQrV1FbA3vGwP4"),
                ("videoattentiontarget", "VideoAttentionTarget", "11_O4Jm5wsvQ8qfLLgTlrudqSNvvepsV0"),
            )
        ),
        DatasetEntry(
            "capmit1003",
            "CapMIT1003 captions and click-contingent explorations (SQLite)",
            "https://github.com/mad-lab-fau/CapMIT1003",
            manual="The .db file is not in the public repositories; request it from the authors and place it under <root>/capmit1003/. Images: `gazekit download mit1003`.",
        ),
    )
}


def _backbone_entries() -> dict[str, DatasetEntry]:
    """Backbone weight entries from ``gazekit.backbones.loading.BACKBONE_WEIGHTS``, when that module exists."""
    try:
        from gazekit.backbones import loading  # type: ignore[attr-defined]
    except ImportError:
        return {}
    table = getattr(loading, "BACKBONE_WEIGHTS", None)
    if not isinstance(table, dict):
        return {}
    out = {}
    for name, spec in table.items():

        def get(k: str, default: Any = None, _s=spec) -> Any:
            return _s.get(k, default) if isinstance(_s, dict) else getattr(_s, k, default)

        urls = list(get("urls") or ([get("url")] if get("url") else []))
        single = len(urls) == 1

        def fname(u: str, _single=single, _get=get) -> str:
            return (_get("filename") if _single else None) or PurePosixPath(u.split("?")[0]).name

        # a single checksum/size can only describe a single file
        files = tuple(
            RemoteFile(
                u,
                fname(u),
                sha256=get("sha256") if single else None,
                md5=get("md5") if single else None,
                size=get("size") if single else None,
            )  # fmt: skip
            for u in urls
        )
        desc = str(get("description", "") or get("repo_id", "") or "backbone weights")
        out[str(name)] = DatasetEntry(
            str(name), desc, str(get("homepage", "") or ""), files,
            manual=None if files else f"{desc}: no direct URL registered (see gazekit.backbones.loading)",
            kind="weights",
        )  # fmt: skip
    return out


def _photo_model_entries() -> dict[str, DatasetEntry]:
    """Detectors for users' photos: open-vocabulary object detectors (:data:`gazekit.objects.DETECTORS`, the
    transformers layout of their Hugging Face repositories; no published sums, so size-unverified) and the
    YuNet face detector (:data:`gazekit.heads.YUNET`, sha256-checked). ``gazekit download NAME --root DIR``
    puts them in ``DIR/NAME/``, where ``GAZEKIT_WEIGHTS_DIR=DIR`` (or ``--root data`` from the working
    folder) makes gazekit find them."""
    from gazekit.heads import YUNET
    from gazekit.objects import DETECTORS

    out = {
        name: DatasetEntry(
            name,
            str(d["description"]),
            f"https://huggingface.co/{d['repo_id']}",
            tuple(RemoteFile(f"https://huggingface.co/{d['repo_id']}/resolve/main/{f}", f) for f in d["files"]),
            kind="weights",
        )
        for name, d in DETECTORS.items()
    }
    out["yunet"] = DatasetEntry(
        "yunet",
        str(YUNET["description"]),
        str(YUNET["homepage"]),
        (RemoteFile(YUNET["url"], YUNET["filename"], sha256=YUNET["sha256"], size=YUNET["size"]),),
        kind="weights",
    )
    return out


def registry() -> dict[str, DatasetEntry]:
    """Datasets, backbone weights (only if ``gazekit.backbones.loading`` provides them) and photo detectors."""
    out = dict(DATASETS)
    for k, v in (*_backbone_entries().items(), *_photo_model_entries().items()):
        out.setdefault(k, v)
    return out


# --------------------------------------------------------------------------------------------- download
def _hash_file(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, sha256: str | None, md5: str | None, size: int | None = None) -> None:
    if size is not None and path.stat().st_size != int(size):
        raise DownloadError(f"{path.name}: size mismatch (expected {size} bytes, got {path.stat().st_size})")
    for algo, want in (("sha256", sha256), ("md5", md5)):
        if want:
            got = _hash_file(path, algo)
            if got.lower() != want.lower():
                raise DownloadError(f"{path.name}: {algo} mismatch (expected {want}, got {got})")


def download_file(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest + '.part'`` with HTTP Range, verifying before the rename.

    An existing ``dest`` that verifies is kept (no network access). Raises DownloadError on HTTP/network errors
    or a checksum mismatch (the bad file is removed).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        try:
            _verify(dest, sha256, md5, size)
            return dest
        except DownloadError:
            dest.unlink()
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "gazekit-download"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    total: int | None = None
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - registry URLs or user-given
            status = getattr(resp, "status", 200)
            if have and status == 206:
                mode = "ab"
            else:
                mode, have = "wb", 0  # the server ignored Range (or nothing to resume): start over
            length = resp.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            done = have
            with part.open(mode) as f:
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                f.flush()
                os.fsync(f.fileno())  # the verified rename below must not reach the disk before the bytes
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # asked past the end: the .part is already complete
            pass
        else:
            raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise DownloadError(f"{url}: {getattr(e, 'reason', e)} (partial download kept for resuming)") from None
    if total is not None and part.stat().st_size != total:
        raise DownloadError(f"{url}: got {part.stat().st_size} of {total} bytes (partial download kept for resuming)")
    try:
        _verify(part, sha256, md5, size)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------------- extraction
def _check_member_name(name: str, archive: Path) -> PurePosixPath:
    n = name.replace("\\", "/")
    pp = PurePosixPath(n)
    if pp.is_absolute() or n.startswith("/") or (len(n) > 1 and n[1] == ":") or ".." in pp.parts or "\x00" in n:
        raise DownloadError(f"{archive.name}: unsafe path in archive: {name!r}")
    return pp


def safe_extract(archive: str | Path, dest: str | Path) -> None:
    """Unpack a zip or tar archive into ``dest``, refusing anything that could land outside it.

    Refused: absolute paths, ``..`` components, drive letters, symlinks/hard links, devices and FIFOs.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(dest))

    def target(pp: PurePosixPath) -> Path:
        t = Path(os.path.realpath(root.joinpath(*pp.parts)))
        if t != root and root not in t.parents:
            raise DownloadError(f"{archive.name}: {pp} would be written outside {root}")
        return t

    def write(pp: PurePosixPath, name: str, is_dir: bool, open_member: Callable[[], IO[bytes] | None]) -> None:
        t = target(pp)
        if is_dir:
            t.mkdir(parents=True, exist_ok=True)
            return
        t.parent.mkdir(parents=True, exist_ok=True)
        src = open_member()
        if src is None:
            raise DownloadError(f"{archive.name}: cannot read {name}")
        with src, open(t, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                pp = _check_member_name(info.filename, archive)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise DownloadError(f"{archive.name}: links are not allowed in archives ({info.filename})")
                write(pp, info.filename, info.is_dir(), partial(zf.open, info))
        return
    try:
        tf = tarfile.open(archive)  # noqa: SIM115 - closed by the with-block below
    except tarfile.TarError as e:
        raise DownloadError(f"{archive.name}: not a zip or tar archive ({e})") from None
    with tf:
        for m in tf.getmembers():
            pp = _check_member_name(m.name, archive)
            if m.issym() or m.islnk():
                raise DownloadError(f"{archive.name}: links are not allowed in archives ({m.name})")
            if not (m.isfile() or m.isdir()):
                raise DownloadError(f"{archive.name}: special file in archive ({m.name})")
            write(pp, m.name, m.isdir(), partial(tf.extractfile, m))


def _is_archive(name: str) -> bool:
    n = name.lower()
    return n.endswith((".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"))


def fetch(
    name: str,
    root: str | Path,
    *,
    force: bool = False,
    entry: DatasetEntry | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
    keep_archives: bool = False,
) -> Path:
    """Download, verify and unpack dataset ``name`` into ``<root>/<name>``; returns that folder.

    If ``<root>/<name>`` exists and ``force`` is False, nothing is done. ``entry`` overrides the registry
    (tests use it to point at a local server).
    """
    reg = registry()
    if entry is None:
        if name not in reg:
            raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(sorted(reg))}")
        entry = reg[name]
    if not entry.files:
        raise DownloadError(f"{name}: nothing to download automatically. {entry.manual or ''}".strip())
    root = Path(root)
    final = root / name
    if final.exists() and not force:
        return final
    cache = root / ".downloads" / name
    files = []
    for rf in entry.files:
        if PurePosixPath(rf.filename).name != rf.filename or rf.filename in ("", ".", ".."):
            raise ConfigError(f"{name}: registry file name must be a plain name, got {rf.filename!r}")
        cb = None if progress is None else (lambda d, t, _n=rf.filename: progress(_n, d, t))
        if not (rf.sha256 or rf.md5 or rf.size):
            warnings.warn(f"{name}/{rf.filename}: no published checksum; the download cannot be verified", stacklevel=2)
        files.append(
            download_file(rf.url, cache / rf.filename, sha256=rf.sha256, md5=rf.md5, size=rf.size, progress=cb)
        )
    # unpacked into a hidden staging folder, renamed into place whole; a killed run's folder is removed here
    tmp = staging_dir(root, name, ".tmp")
    try:
        for f in files:
            if _is_archive(f.name):
                safe_extract(f, tmp)
            else:
                shutil.copy2(f, tmp / f.name)
        if final.exists():
            old = staging_dir(root, name, ".old")
            os.replace(final, old / name)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not keep_archives:
        shutil.rmtree(cache, ignore_errors=True)
    return final


# --------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="dataset or weights name (see --list)")
    parser.add_argument("--root", default="data", help="folder that receives <root>/<name> (default: ./data)")
    parser.add_argument("--list", action="store_true", help="list the registry and exit")
    parser.add_argument("--force", action="store_true", help="download and unpack again even if present")
    parser.add_argument("--keep-archives", action="store_true", help="keep the verified archives in <root>/.downloads")


def _print_list() -> None:
    for name, e in sorted(registry().items()):
        how = "auto" if e.files else "manual"
        print(f"{name:<24} {e.kind:<8} {how:<7} {e.description}")


def run(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        _print_list()
        return 0 if args.list else 2
    reg = registry()
    if args.name not in reg:
        raise ConfigError(f"unknown dataset {args.name!r}; known: {', '.join(sorted(reg))}")
    e = reg[args.name]
    if not e.files:
        print(f"{e.name}: {e.description}\n  {e.homepage}\n  {e.manual}", file=sys.stderr)
        return 3
    quiet = os.environ.get("GAZEKIT_NO_PROGRESS") == "1"

    def progress(fname: str, done: int, total: int | None) -> None:
        if not quiet:
            pct = f"{100 * done / total:5.1f}%" if total else f"{done / 1e6:.1f} MB"
            print(f"\r{fname}: {pct}", end="", file=sys.stderr, flush=True)

    out = fetch(args.name, args.root, force=args.force, progress=progress, keep_archives=args.keep_archives)
    if not quiet:
        print(file=sys.stderr)
    print(out)
    return 0
