"""MIT1003 (Judd, Ehinger, Durand, Torralba, ICCV 2009): free-viewing scanpaths from the original release.

Original layout (``DATA.zip`` + ``ALLSTIMULI.zip``)::

    ALLSTIMULI/<name>.jpeg                 1,003 images, max side 1024 px
    DATA/<subject>/<name>.mat              one MATLAB file per subject and image

Each ``.mat`` holds one variable named after the image stem (cut to 63 characters, MATLAB's limit), a
struct with ``imgName`` and ``DATA`` (a struct array, one element in this experiment) whose ``eyeData``
is ``[N, 2]`` raw gaze samples (x, y image px) at 240 Hz; negative values are blinks.

Fixations. The release extracts them with ``checkFixations.m`` (MATLAB/Octave): an acceleration-based
saccade detector (6 deg/s per window at 34 px/deg, windows of 4 samples), fixations shorter than 50 ms
merged away, each fixation at the median of its samples, ``duration = samples / 240``.
:func:`detect_fixations` is gazekit's own **approximation** (no MATLAB needed): velocity-threshold
detection on 4-sample-smoothed speed with the same sampling rate, pixel scale and 50 ms minimum;
positions are sample medians. It is not bit-identical to ``checkFixations``. Files that already hold
extracted fixations (pysaliency's intermediate ``fixations`` [N, 2] + ``starts`` [N] (+ ``durations``)
``.mat`` files) are read as they are, via ``read_mit1003_fixation_mat``.

The first fixation is the forced central one (viewers fixated a cross before each image): ``drop_initial``
removes it (pysaliency ``get_mit1003``); keep it with ``drop_initial=False``
(``get_mit1003_with_initial_fixation``). Fixations outside the image are dropped when the image size is
known. Durations are in ms; ``meta["start_s"]`` holds fixation onsets in seconds.

Also: :func:`read_mit1003_json` reads ScanDiff's ``mit1003_fixations_{split}.json`` records (name, width,
height, X, Y in original px, T in ms, split).

``.mat`` files are read with :func:`scipy.io.loadmat`, which never unpickles; MATLAB v7.3 (HDF5) files are
refused with a clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gazekit.datasets._common import finite, image_size, load_json, resolve_under, safe_relpath
from gazekit.errors import DataFormatError
from gazekit.types import Scanpath

__all__ = [
    "MIT1003_SUBJECTS",
    "SAMPLING_RATE_HZ",
    "detect_fixations",
    "read_mit1003",
    "read_mit1003_eyedata",
    "read_mit1003_fixation_mat",
    "read_mit1003_json",
]

SAMPLING_RATE_HZ = 240.0
PX_PER_DEG = 34.0
#: The 15 observers of the release (folder names under DATA/).
MIT1003_SUBJECTS = ("CNG", "ajs", "emb", "ems", "ff", "hp", "jcw", "jw", "kae", "krl", "po", "tmj", "tu", "ya", "zb")


def _loadmat(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat

    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataFormatError("file not found", path=path) from None
    except OSError as e:
        raise DataFormatError(f"cannot read ({e.strerror})", path=path) from None
    if size > 512 * 1024 * 1024:
        raise DataFormatError(f"file of {size} bytes is too large for a MIT1003 .mat file", path=path)
    try:
        return loadmat(str(path), squeeze_me=True, struct_as_record=False, mat_dtype=False)
    except NotImplementedError:
        raise DataFormatError(
            "MATLAB v7.3 (HDF5) .mat files are not supported; save with -v7 or -v6", path=path
        ) from None
    except Exception as e:  # noqa: BLE001 - scipy raises many types on corrupt files; all mean "not a valid .mat"
        raise DataFormatError(f"not a readable MATLAB file ({type(e).__name__}: {e})"[:300], path=path) from None


def _user_vars(mat: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mat.items() if not k.startswith("__")}


def read_mit1003_eyedata(path: str | Path) -> np.ndarray:
    """Raw ``[N, 2]`` gaze samples (x, y px; NaN for blinks/negative values) of one original ``.mat`` file."""
    p = Path(path)
    mat = _user_vars(_loadmat(p))
    stem = p.stem[:63]
    var = mat.get(stem)
    if var is None:
        cands = [v for v in mat.values() if hasattr(v, "DATA")]
        if len(cands) != 1:
            raise DataFormatError(f"no struct variable {stem!r} with a DATA field", path=p, field=stem)
        var = cands[0]
    data = getattr(var, "DATA", None)
    if data is None:
        raise DataFormatError("struct has no DATA field", path=p, field="DATA")
    if isinstance(data, np.ndarray):
        if data.size == 0:
            raise DataFormatError("DATA is empty", path=p, field="DATA")
        data = data.reshape(-1)[0]
    eye = getattr(data, "eyeData", None)
    if eye is None:
        raise DataFormatError("DATA(1) has no eyeData field", path=p, field="DATA.eyeData")
    try:
        a = np.asarray(eye, dtype=float)
    except (TypeError, ValueError):
        raise DataFormatError("eyeData must be a numeric [N, 2] array", path=p, field="DATA.eyeData") from None
    if a.ndim == 1 and a.size in (2, 3):
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] < 2:
        raise DataFormatError(f"eyeData must be [N, 2], got shape {a.shape}", path=p, field="DATA.eyeData")
    xy = a[:, :2].copy()
    xy[~np.isfinite(xy).all(axis=1)] = np.nan
    xy[(xy < 0).any(axis=1)] = np.nan  # negative = blink
    return xy


def detect_fixations(
    samples: np.ndarray,
    *,
    rate_hz: float = SAMPLING_RATE_HZ,
    velocity_deg_s: float = 30.0,
    px_per_deg: float = PX_PER_DEG,
    min_duration_ms: float = 50.0,
    window: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Velocity-threshold fixations of raw samples (gazekit's stand-in for ``checkFixations``).

    Args:
        samples: ``[N, 2]`` x, y px; NaN rows are missing samples (they end a fixation).
        rate_hz: sampling rate; velocity_deg_s, px_per_deg: saccade threshold (deg/s) and screen scale;
        min_duration_ms: shorter fixations are dropped; window: samples of the speed moving average.

    Returns:
        ``x, y`` (medians, px), ``start_s`` (onset, s) and ``duration_ms``, each ``[F]``.
    """
    s = np.asarray(samples, dtype=float).reshape(-1, 2)
    n = len(s)
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
    valid = np.isfinite(s).all(axis=1)
    step = np.zeros(n)
    d = np.linalg.norm(np.diff(s, axis=0), axis=1)
    step[1:] = np.where(np.isfinite(d), d, np.inf)
    w = max(1, int(window))
    finite_step = np.where(np.isfinite(step), step, 0.0)
    smooth = np.convolve(finite_step, np.ones(w) / w, mode="same")
    speed = smooth * rate_hz  # px/s
    is_fix = valid & (speed <= velocity_deg_s * px_per_deg) & np.isfinite(step)
    is_fix[0] = valid[0]
    min_len = max(1, int(round(min_duration_ms * rate_hz / 1000.0)))
    xs, ys, starts, durs = [], [], [], []
    i = 0
    while i < n:
        if not is_fix[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and is_fix[j + 1]:
            j += 1
        if j - i + 1 >= min_len:
            seg = s[i : j + 1]
            xs.append(float(np.median(seg[:, 0])))
            ys.append(float(np.median(seg[:, 1])))
            starts.append(i / rate_hz)
            durs.append(1000.0 * (j - i + 1) / rate_hz)
        i = j + 1
    return np.array(xs), np.array(ys), np.array(starts), np.array(durs)


def read_mit1003_fixation_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Already-extracted fixations of one subject and image: ``fixations`` [N, 2] (x, y px), ``starts`` [N]
    (samples at 240 Hz, 1-based as MATLAB writes them), optional ``durations`` [N] (ms).

    Returns ``x, y, start_s, duration_ms`` (durations NaN when absent).
    """
    p = Path(path)
    mat = _user_vars(_loadmat(p))
    if "fixations" not in mat:
        raise DataFormatError("no 'fixations' variable", path=p, field="fixations")
    try:
        fx = np.asarray(mat["fixations"], dtype=float)
        st = np.asarray(mat.get("starts", np.full(len(np.atleast_2d(fx)), np.nan)), dtype=float).reshape(-1)
        du = mat.get("durations")
        du = np.full(st.shape, np.nan) if du is None else np.asarray(du, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise DataFormatError("fixations/starts/durations must be numeric", path=p, field="fixations") from None
    if fx.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
    fx = fx.reshape(-1, 2) if fx.ndim == 1 and fx.size == 2 else fx
    if fx.ndim != 2 or fx.shape[1] != 2:
        raise DataFormatError(f"fixations must be [N, 2], got shape {fx.shape}", path=p, field="fixations")
    if st.shape[0] != fx.shape[0] or du.shape[0] != fx.shape[0]:
        raise DataFormatError("fixations, starts and durations have different lengths", path=p, field="starts")
    if not np.isfinite(fx).all():
        raise DataFormatError("fixations contain NaN or infinite values", path=p, field="fixations")
    if np.any(du < 0):
        raise DataFormatError("negative duration", path=p, field="durations")
    return fx[:, 0].copy(), fx[:, 1].copy(), (st - 1.0) / SAMPLING_RATE_HZ, du


def _stimulus_name(stim_root: Path | None, stem: str) -> tuple[str, tuple[int, int] | None]:
    if stim_root is not None:
        for ext in (".jpeg", ".jpg", ".png"):
            f = resolve_under(stim_root, stem + ext, path=str(stim_root), field="name")
            if f.is_file():
                return stem + ext, image_size(f)
    return stem + ".jpeg", None


def read_mit1003(
    root: str | Path,
    *,
    subjects: list[str] | None = None,
    drop_initial: bool = True,
    image_sizes: dict[str, tuple[int, int]] | None = None,
    **detect_kw: Any,
) -> list[Scanpath]:
    """All scanpaths of an unpacked MIT1003 release (``root/DATA/<subject>/*.mat``, ``root/ALLSTIMULI``).

    Args:
        root: the dataset root (a folder holding ``DATA/``; ``ALLSTIMULI/`` is used for image sizes if present).
        subjects: subject folders to read (default: every folder under ``DATA/``).
        drop_initial: drop the forced central first fixation (pysaliency's ``get_mit1003``).
        image_sizes: ``{stimulus file name: (width, height)}`` when the images are not available.
        **detect_kw: options of :func:`detect_fixations` (raw files only).

    Files holding a ``fixations`` variable are read as pre-extracted fixations; others as raw ``eyeData``.
    Scanpaths: ``stimulus`` = image file name, ``subject`` = folder name, ``condition="freeview"``,
    frame = image size (None when unknown), ``meta["has_initial_fixation"] = not drop_initial``.
    """
    r = Path(root)
    data_dir = r / "DATA" if (r / "DATA").is_dir() else r
    if not data_dir.is_dir():
        raise DataFormatError("no DATA/ folder", path=r)
    stim_root = r / "ALLSTIMULI" if (r / "ALLSTIMULI").is_dir() else None
    subs = subjects if subjects is not None else sorted(d.name for d in data_dir.iterdir() if d.is_dir())
    out: list[Scanpath] = []
    for sub in subs:
        sdir = resolve_under(data_dir, safe_relpath(sub, path=str(data_dir), field="subject"), path=str(data_dir))
        if not sdir.is_dir():
            raise DataFormatError(f"subject folder {sub!r} not found", path=data_dir, field="subject")
        for f in sorted(sdir.glob("*.mat")):
            if f.is_symlink():
                resolve_under(data_dir, f.relative_to(data_dir).as_posix(), path=str(f))
            mat_vars = _user_vars(_loadmat(f))
            if "fixations" in mat_vars:
                x, y, start, dur = read_mit1003_fixation_mat(f)
            else:
                x, y, start, dur = detect_fixations(read_mit1003_eyedata(f), **detect_kw)
            name, size = _stimulus_name(stim_root, f.stem)
            if size is None and image_sizes is not None:
                size = image_sizes.get(name)
            if size is not None:  # fixations outside the image go first (pysaliency's order), then the initial one
                keep = (x > 0) & (x < size[0]) & (y > 0) & (y < size[1])
                x, y, start, dur = x[keep], y[keep], start[keep], dur[keep]
            if drop_initial:
                x, y, start, dur = x[1:], y[1:], start[1:], dur[1:]
            out.append(
                Scanpath(
                    x,
                    y,
                    dur,
                    stimulus=name,
                    subject=sub,
                    condition="freeview",
                    width=None if size is None else float(size[0]),
                    height=None if size is None else float(size[1]),
                    meta={"start_s": start, "has_initial_fixation": not drop_initial, "file": f.name},
                )
            )
    return out


def read_mit1003_json(path: str | Path) -> list[Scanpath]:
    """ScanDiff's ``mit1003_fixations_{split}.json``: records of name, width, height, X, Y (px), T (ms), split."""
    p = str(path)
    data = load_json(path)
    if not isinstance(data, list):
        raise DataFormatError(f"expected a JSON list of records, got {type(data).__name__}", path=p)
    out = []
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise DataFormatError(f"expected an object, got {type(rec).__name__}", path=p, record=i)
        name = safe_relpath(rec.get("name"), path=p, record=i, field="name")
        w = finite(rec.get("width"), path=p, record=i, field="width")
        h = finite(rec.get("height"), path=p, record=i, field="height")
        if w <= 0 or h <= 0:
            raise DataFormatError(f"size must be positive, got {w}x{h}", path=p, record=i, field="width")
        arrs = {}
        for k in ("X", "Y", "T"):
            v = rec.get(k)
            if k == "T" and v is None:
                continue
            if not isinstance(v, list):
                raise DataFormatError("expected a list of numbers", path=p, record=i, field=k)
            arrs[k] = np.array([finite(e, path=p, record=i, field=k) for e in v], dtype=float)
        t = arrs.get("T", np.full(len(arrs["X"]), np.nan))
        if not (len(arrs["X"]) == len(arrs["Y"]) == len(t)):
            raise DataFormatError("X, Y and T lengths differ", path=p, record=i, field="X/Y/T")
        if len(t) == 0:
            raise DataFormatError("empty scanpath", path=p, record=i, field="X")
        if np.any(t < 0):
            raise DataFormatError("negative fixation duration", path=p, record=i, field="T")
        out.append(
            Scanpath(
                arrs["X"],
                arrs["Y"],
                t,
                stimulus=name,
                subject=None if rec.get("subject") is None else str(rec.get("subject")),
                condition="freeview",
                width=w,
                height=h,
                meta={"record": i, "split": rec.get("split")},
            )
        )
    return out
