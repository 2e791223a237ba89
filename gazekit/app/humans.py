"""Human scanpaths in the viewer (uploads matched to the image) and their scores against predictions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

from gazekit.app.inputs import ImageInput
from gazekit.errors import DataFormatError, GazekitError
from gazekit.io import assign_frames, frame_written, parse_scanpaths
from gazekit.metrics import METRICS, SCANPATH_METRICS, human_consistency, score_distribution, score_scanpaths
from gazekit.types import FrameTransform, Scanpath

#: Metrics preselected in the page when the metrics module offers them (first found wins).
_PREFERRED_METRICS = ("scanmatch", "ss", "sequence_score", "multimatch", "sed", "dtw", "frechet", "tde")


@dataclass
class HumanMatch:
    """Human scanpaths for one image, in its image frame, and what was done to find them."""

    scanpaths: list[Scanpath]
    notes: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> int:
        return len({sp.subject for sp in self.scanpaths}) if self.scanpaths else 0


def parse_humans(data: bytes, name: str) -> list[Scanpath]:
    """Human scanpaths from an upload (gazekit CSV or COCO-Search18 JSON); DataFormatError on bad files."""

    sps = parse_scanpaths(data, name)
    if not sps:
        raise DataFormatError("no scanpaths in the file", path=name)
    return sps


def _stem(name: str) -> str:
    return PurePath(str(name).replace("\\", "/")).stem.lower()


def match_humans(
    humans: Sequence[Scanpath], img: ImageInput, task: str | None = None, frame: tuple[float, float] | None = None
) -> HumanMatch:
    """The human scanpaths recorded on ``img`` (by file name; extension and case ignored as a fallback).

    Records without width/height get ``frame`` (the user's choice; never guessed, see
    :func:`gazekit.io.assign_frames`). Coordinates recorded on a display of another size (COCO-Search18's
    1680x1050) are mapped into the image frame, assuming the image was shown letterboxed (centred, aspect
    kept). With a search ``task``, the scanpaths for that target are kept when there are any.

    Raises:
        DataFormatError: no scanpath in the data is for this image (the message lists the images it has).
        FrameMissingError: some matched record has no width/height and ``frame`` is None.
    """
    notes: list[str] = []
    exact = [s for s in humans if s.stimulus == img.name]
    if not exact:
        exact = [s for s in humans if PurePath(s.stimulus).name.lower() == img.name.lower()]
    if not exact:
        exact = [s for s in humans if _stem(s.stimulus) == _stem(img.name)]
        if exact:
            notes.append(f"matched by name without extension ({exact[0].stimulus} ~ {img.name})")
    if not exact:
        names = sorted({s.stimulus for s in humans})
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise DataFormatError(
            f"the human data is for other image(s) ({shown}), not {img.name!r}; "
            "upload the scanpaths recorded on this image (the stimulus column / name must be its file name)"
        )
    if task:
        same = [s for s in exact if (s.task or "").lower() == task.lower()]
        if same:
            exact = same
        elif any(s.task for s in exact):
            notes.append(f"no human scanpath has task {task!r}; using all {len(exact)} for this image")
    given = sum(1 for s in exact if not frame_written(s))
    exact = assign_frames(
        exact, frame, source="the human scanpaths", option="the 'recorded on' frame (CLI: --human-frame)"
    )
    if given and frame is not None:
        notes.append(
            f"{given} scanpath(s) without width/height are taken as recorded on a {frame[0]:g}x{frame[1]:g} frame"
            + (" (this image's pixels)" if (frame[0], frame[1]) == (img.width, img.height) else "")
        )
    out = []
    mapped = False
    for s in exact:
        s2 = dataclasses.replace(s, meta=dict(s.meta))
        fr = s.frame
        if fr is not None and (abs(fr.width - img.width) > 0.5 or abs(fr.height - img.height) > 0.5):
            s2 = FrameTransform.letterbox(img.frame, fr).inverse().scanpath(s, img.frame)
            mapped = True
        s2.stimulus = img.name
        s2.width, s2.height = float(img.width), float(img.height)
        out.append(s2)
    if mapped:
        notes.append("fixations recorded on a display of another size were mapped into the image (letterbox)")
    return HumanMatch(out, notes)


def metric_names() -> list[str]:
    """Scanpath metrics the ``gazekit score`` code path offers."""
    return list(SCANPATH_METRICS)


def default_metrics(names: Sequence[str]) -> list[str]:
    """A few cheap, common metrics to preselect."""
    chosen = [m for m in _PREFERRED_METRICS if m in names][:3]
    return chosen or list(names[:2])


@dataclass(frozen=True)
class ScoreRow:
    """Prediction-vs-human score of one metric, and the human ceiling (leave-one-subject-out) when known.

    ``note`` says why a metric has no value (e.g. it needs object indices the data does not have).
    """

    metric: str
    mean: float = float("nan")
    std: float = float("nan")
    n: int = 0
    human_mean: float | None = None
    human_std: float | None = None
    human_n: int | None = None
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        def fmt(m: float | None, s: float | None, n: int | None) -> str:
            if m is None or not np.isfinite(m):
                return "—"
            if s is None or not np.isfinite(s) or (n or 0) < 2:
                return f"{m:.3f} (n={n})"
            return f"{m:.3f} ± {s:.3f} (n={n})"

        return {
            "metric": self.metric,
            "model vs humans": fmt(self.mean, self.std, self.n),
            "human consistency": fmt(self.human_mean, self.human_std, self.human_n),
            "note": self.note,
        }


def _summary(v: Any) -> tuple[float, float, int]:
    if isinstance(v, dict):
        return float(v.get("mean", np.nan)), float(v.get("std", np.nan)), int(v.get("n", 0))
    if isinstance(v, int | float):
        return float(v), float("nan"), 1
    return float(v.mean), float(getattr(v, "std", np.nan)), int(getattr(v, "n", 0))


def score(predictions: Sequence[Scanpath], humans: Sequence[Scanpath], metrics: Sequence[str]) -> list[ScoreRow]:
    """Score predictions against humans with ``metrics`` (the ``gazekit score`` path), plus the human ceiling.

    All scanpaths must be on the same image (as :func:`match_humans` leaves them); they are given one
    stimulus/task key so the metrics pair every prediction with every human. Metrics are computed one at a
    time, so one that does not apply to this data (object indices, target boxes) gets a note instead of
    failing the others. The ceiling (leave-one-subject-out) needs at least two subjects. With several
    predictions (samples) and a ceiling, each pair metric also gets the distribution protocol's rows
    (``kl_*``, ``rss_*``, ``dss_*``; :func:`gazekit.metrics.score_distribution`).
    """
    if not metrics:
        raise DataFormatError("choose at least one metric")
    if not predictions or not humans:
        raise DataFormatError("scoring needs at least one predicted and one human scanpath")
    stim = predictions[0].stimulus
    task = predictions[0].task

    def same_key(sps: Sequence[Scanpath]) -> list[Scanpath]:
        return [dataclasses.replace(s, stimulus=stim, task=task, meta=dict(s.meta)) for s in sps]

    preds, hums = same_key(predictions), same_key(humans)
    fr = predictions[0].frame
    kw: dict[str, Any] = {"stimuli_sizes": {stim: (fr.width, fr.height)}} if fr is not None else {}
    with_ceiling = len(hums) >= 2 and len({h.subject for h in hums}) >= 2
    rows: list[ScoreRow] = []
    for m in metrics:
        try:
            model = score_scanpaths(preds, hums, [m], **kw)
            ceiling = human_consistency(hums, [m], **kw) if with_ceiling else {}
        except GazekitError as e:
            rows.append(ScoreRow(m, note=f"not applicable: {e}"))
            continue
        for key, val in model.items():  # multimatch expands into its mm_* dimensions
            mean, std, n = _summary(val)
            if key in ceiling:
                hm, hs, hn = _summary(ceiling[key])
                rows.append(ScoreRow(key, mean, std, n, hm, hs, hn))
            else:
                rows.append(ScoreRow(key, mean, std, n))
        if len(preds) >= 2 and with_ceiling and getattr(METRICS.get(m), "kind", None) == "pair":
            rows += _distribution_rows(preds, hums, m, kw)
    return rows


_DIST_NOTES = {
    "kl": "distribution protocol: KL(human-human || model-human) of the pooled scores; lower is better",
    "rss": "RSS: share of human scanpaths matched by a sample above the human-human mean",
    "dss": "DSS: model-human / (1 + |model-model - human-human|)",
}


def _distribution_rows(preds: list[Scanpath], hums: list[Scanpath], m: str, kw: dict) -> list[ScoreRow]:
    """The distribution protocol's rows for one pair metric when several samples are scored."""
    try:
        dist = score_distribution(preds, hums, [m], **kw)
    except GazekitError as e:
        return [ScoreRow(f"kl_{m}", note=f"distribution protocol not applicable: {e}")]
    return [
        ScoreRow(k, float(v.mean), float("nan"), int(v.n), note=_DIST_NOTES[k.split("_", 1)[0]])
        for k, v in dist.items()
        if k.split("_", 1)[0] in _DIST_NOTES
    ]
