"""EyeLink ASC files (the text export of EDF, SR Research ``edf2asc``): fixation events per trial.

What is read (EyeLink user manual, "The ASC File Format"):

* ``EFIX <eye> <stime> <etime> <dur> <axp> <ayp> <aps> [<xr> <yr>]``: one fixation; gazekit takes the average
  position (display px) and the recorded duration ``dur`` (ms). Missing values (``.``) drop the event.
* ``MSG <time> <text>``: messages. A message matching ``trial_start`` (default ``TRIALID``) opens a new trial,
  one matching ``trial_end`` (default ``TRIAL_RESULT``) closes it. Files without trial messages give one
  trial per ``START``...``END`` recording block.
* ``MSG <time> DISPLAY_COORDS <left> <top> <right> <bottom>`` sets the frame (``right - left + 1`` wide);
  ``GAZE_COORDS`` is used only when no DISPLAY_COORDS is present.
* An optional ``stimulus_pattern`` regex (one group) on messages names the trial's image (e.g.
  ``r"!V IMGLOAD \\w+ (\\S+)"``); only the file's base name is kept, so a path in the file can never point
  anywhere. Without it the stimulus is ``trial_<id>``.
* Samples, saccades, blinks, comments (``#``, ``/``, ``;``) and ``**`` preamble lines are skipped.

Binocular files: ``eye="L"``/``"R"`` picks one eye; ``None`` uses the eye of the first fixation event.
Fixations outside the display are dropped by default (``offscreen="drop"``; ``"keep"`` or ``"error"``);
the count is in ``meta["dropped_offscreen"]``. Trials without a fixation are left out.
"""

from __future__ import annotations

import re
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np

from gazekit.datasets._common import finite, read_text
from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import Scanpath

__all__ = ["read_eyelink_asc"]


def _basename(name: str) -> str:
    b = PureWindowsPath(name.strip().strip('"').replace("/", "\\")).name
    return b if b not in ("", ".", "..") else ""


def read_eyelink_asc(
    path: str | Path,
    *,
    subject: str | None = None,
    eye: str | None = None,
    trial_start: str = r"TRIALID\s*(.*)",
    trial_end: str | None = r"TRIAL_RESULT",
    stimulus_pattern: str | None = None,
    offscreen: str = "drop",
) -> list[Scanpath]:
    """Read the fixations of an ASC file as one scanpath per trial (see the module docstring)."""
    if eye not in (None, "L", "R"):
        raise ConfigError(f"eye must be 'L', 'R' or None, got {eye!r}")
    if offscreen not in ("drop", "keep", "error"):
        raise ConfigError(f"offscreen must be 'drop', 'keep' or 'error', got {offscreen!r}")
    try:
        start_re = re.compile(trial_start)
        end_re = re.compile(trial_end) if trial_end else None
        stim_re = re.compile(stimulus_pattern) if stimulus_pattern else None
    except re.error as e:
        raise ConfigError(f"bad trial/stimulus pattern: {e}") from None
    p = str(path)
    text = read_text(path)
    subj = subject if subject is not None else Path(p).stem
    display: tuple[float, float] | None = None
    gaze_coords: tuple[float, float] | None = None
    trials: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    use_msgs = False
    chosen_eye = eye

    def new_trial(tid: str, line: int) -> dict[str, Any]:
        t = {"id": tid, "line": line, "fix": [], "stimulus": None, "messages": []}
        trials.append(t)
        return t

    for line_no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s[0] in "#/;" or s.startswith("**"):
            continue
        parts = s.split()
        kw = parts[0]
        if kw == "MSG":
            if len(parts) < 2:
                raise DataFormatError("MSG line without a timestamp", path=p, line=line_no, field="MSG")
            t = finite(parts[1], path=p, line=line_no, field="time")
            msg = s.split(None, 2)[2] if len(parts) > 2 else ""
            if msg.startswith(("DISPLAY_COORDS", "GAZE_COORDS")):
                vals = msg.split()[1:5]
                if len(vals) != 4:
                    raise DataFormatError("expected 4 coordinates", path=p, line=line_no, field=msg.split()[0])
                l_, t_, r_, b_ = (finite(v, path=p, line=line_no, field=msg.split()[0]) for v in vals)
                size = (r_ - l_ + 1, b_ - t_ + 1)
                if size[0] <= 1 or size[1] <= 1:
                    raise DataFormatError(
                        f"display size must be positive, got {size}", path=p, line=line_no, field=msg.split()[0]
                    )
                if msg.startswith("DISPLAY_COORDS"):
                    display = size
                else:
                    gaze_coords = size
                continue
            m = start_re.search(msg)
            if m:
                use_msgs = True
                tid = (m.group(1) if m.groups() else "").strip() or str(len(trials))
                cur = new_trial(tid, line_no)
            elif end_re is not None and end_re.search(msg) and use_msgs:
                if cur is not None:
                    cur["messages"].append((t, msg))
                cur = None
                continue
            if cur is not None:
                cur["messages"].append((t, msg))
                if stim_re is not None and cur["stimulus"] is None:
                    sm = stim_re.search(msg)
                    if sm:
                        cur["stimulus"] = _basename(sm.group(1) if sm.groups() else sm.group(0)) or None
        elif kw == "START":
            if not use_msgs:
                cur = new_trial(str(len(trials)), line_no)
        elif kw == "END":
            if not use_msgs:
                cur = None
        elif kw == "EFIX":
            if len(parts) < 8:
                raise DataFormatError(
                    f"EFIX needs 7 fields (eye stime etime dur axp ayp aps), got {len(parts) - 1}",
                    path=p,
                    line=line_no,
                    field="EFIX",
                )
            e = parts[1]
            if e not in ("L", "R"):
                raise DataFormatError(f"eye must be L or R, got {e!r}", path=p, line=line_no, field="eye")
            if chosen_eye is None:
                chosen_eye = e
            if e != chosen_eye:
                continue
            if "." in (parts[5], parts[6]):  # missing position
                continue
            stime = finite(parts[2], path=p, line=line_no, field="stime")
            etime = finite(parts[3], path=p, line=line_no, field="etime")
            dur = finite(parts[4], path=p, line=line_no, field="dur", min_value=0.0)
            x = finite(parts[5], path=p, line=line_no, field="axp")
            y = finite(parts[6], path=p, line=line_no, field="ayp")
            if etime < stime:
                raise DataFormatError("etime before stime", path=p, line=line_no, field="etime")
            if cur is None:
                if use_msgs:
                    continue  # between trials
                cur = new_trial(str(len(trials)), line_no)
            cur["fix"].append((x, y, dur, stime, line_no))
    frame = display or gaze_coords
    out = []
    for t in trials:
        if not t["fix"]:
            continue
        a = np.array([f[:4] for f in t["fix"]], dtype=float)
        dropped = 0
        if frame is not None:
            inside = (a[:, 0] >= 0) & (a[:, 0] <= frame[0]) & (a[:, 1] >= 0) & (a[:, 1] <= frame[1])
        else:
            inside = (a[:, 0] >= 0) & (a[:, 1] >= 0)
        if not inside.all():
            if offscreen == "error":
                bad = t["fix"][int(np.argmin(inside))]
                raise DataFormatError(
                    f"fixation at ({bad[0]:g}, {bad[1]:g}) lies outside the display", path=p, line=bad[4], field="axp"
                )
            if offscreen == "drop":
                dropped = int((~inside).sum())
                a = a[inside]
        if len(a) == 0:
            continue
        out.append(
            Scanpath(
                a[:, 0],
                a[:, 1],
                a[:, 2],
                stimulus=t["stimulus"] or f"trial_{t['id']}",
                subject=subj,
                condition="freeview",
                width=None if frame is None else frame[0],
                height=None if frame is None else frame[1],
                meta={
                    "trial_id": t["id"],
                    "start_ms": a[:, 3],
                    "eye": chosen_eye,
                    "messages": t["messages"],
                    "dropped_offscreen": dropped,
                    "line": t["line"],
                },  # fmt: skip
            )
        )
    return out
