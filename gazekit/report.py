"""The demo's HTML report: one self-contained page (inline CSS, no scripts, no external resources).

:func:`render_report` turns the demo's result dictionary (the same one written to ``metrics.json``) into
HTML; :func:`write_report` writes it. Overlay images are linked relative to the report (``overlays/x.png``)
or, with ``embed_images=True``, embedded as base64 ``data:`` URIs so the single file can be mailed around.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gazekit.atomic import atomic_write_text

__all__ = ["format_cell", "render_report", "write_report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1400px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: .88em; margin: .6em 0; }
th, td { border: 1px solid #d4d4d4; padding: .3em .55em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
tr.human td { background: #eef6ee; font-style: italic; }
td.best { font-weight: bold; }
.n { color: #888; font-size: .8em; } .note { color: #555; font-size: .92em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ccc; }
figcaption { color: #555; font-size: .9em; }
code { background: #f5f5f5; padding: 0 .2em; }
ul.missing li { margin-bottom: .3em; }
"""


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def format_cell(summary: dict[str, Any] | None) -> str:
    """``mean ± std`` with ``n`` (HTML); an en dash when the metric has no value."""
    if not summary:
        return "–"
    m, s, n = _num(summary.get("mean")), _num(summary.get("std")), summary.get("n")
    if not math.isfinite(m):
        return "–"
    txt = f"{m:.3f}" if abs(m) < 100 else f"{m:.1f}"
    if math.isfinite(s):
        txt += f" ± {s:.3f}" if abs(s) < 100 else f" ± {s:.1f}"
    if n is not None:
        txt += f' <span class="n">n={int(n)}</span>'
    return txt


def _best(rows: dict[str, dict[str, Any]], metric: str, higher: bool) -> str | None:
    vals = {k: _num((r.get(metric) or {}).get("mean")) for k, r in rows.items()}
    vals = {k: v for k, v in vals.items() if math.isfinite(v)}
    if len(vals) < 2:
        return None
    return (max if higher else min)(vals, key=vals.get)


def _image_src(path: Path, rel: str, embed: bool) -> str:
    if not embed:
        return html.escape(rel)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def render_report(result: dict[str, Any], out_dir: str | Path | None = None, *, embed_images: bool = False) -> str:
    """The report page for a demo ``result`` (see :func:`gazekit.demo.run_demo` for its keys).

    Args:
        result: the demo result: ``world``, ``metric_names``, ``metric_info``, ``models``, ``human``,
            ``not_run``, ``overlays`` (paths relative to ``out_dir`` and captions), ``timings``.
        out_dir: the folder the report lives in (needed to embed images).
        embed_images: inline the overlay PNGs as base64 instead of linking them.
    """
    esc = html.escape
    world = result.get("world", {})
    names: Sequence[str] = result.get("metric_names", [])
    info: dict[str, dict[str, Any]] = result.get("metric_info", {})
    models: dict[str, dict[str, Any]] = result.get("models", {})
    human: dict[str, Any] = result.get("human", {})
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>gazekit demo: scanpath models on the synthetic search world</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>gazekit demo: scanpath models on the synthetic search world</h1>",
        f'<p class="note">gazekit {esc(str(result.get("gazekit_version", "")))} · '
        f"{esc(str(result.get('created', '')))} · total {float(result.get('timings', {}).get('total_s', 0)):.1f} s"
        f"{' · quick mode' if result.get('quick') else ''}</p>",
        "<h2>What this is</h2>",
        "<p>The <b>synthetic search world</b> is gazekit's embedded default data set: seeded, procedurally "
        "generated visual-search displays (grid and free layouts of 6–84 coloured shapes, textures, letters and "
        "digits on grey, 512×320 px), each with a search target that is present or absent, and "
        f"<b>{esc(str(world.get('n_subjects', '')))} simulated observers</b> whose scanpaths come from a "
        "guided-search model (priority from target similarity, centre bias and proximity; inhibition of return "
        "with decay; human-like saccade amplitudes and fixation durations; termination on the target with a miss "
        "rate). Nothing here is human data: the scores say how close each model comes to these simulated "
        "observers, and the <i>human ceiling</i> row says how close the observers come to each other.</p>",
        f"<p>World seed {esc(str(world.get('seed')))}: {esc(str(world.get('n_displays')))} displays, "
        f"{esc(str(world.get('n_test_displays')))} held out for scoring "
        f"({esc(str(world.get('n_test_present')))} target-present), "
        f"{esc(str(world.get('n_human_scanpaths')))} observer scanpaths on them. "
        "Every model predicts one scanpath per held-out display from the target's category and picture (never "
        "its location; only the location-only baselines <i>oracle</i> and <i>target-dwell</i> read the ground "
        "truth); stochastic models also get a row of 10 sampled scanpaths per display, listed first. Pairwise "
        "metrics compare each prediction with every observer on the same display and average; search metrics "
        "use the target-present displays. The distribution protocol (kl_*, rss_*, dss_*; TPP-Gaze, ScanDiff) "
        "asks whether a model's scores against the observers are distributed like the observers' scores "
        "against each other, which one short modal scanpath cannot fake.</p>",
        "<h2>Scores</h2>",
        '<p class="note">mean ± standard deviation over predictions (for set metrics over tasks or subjects), '
        "n = number of values; ↑ higher is better, ↓ lower is better; bold = best model; seconds = prediction / scoring "
        "time. The ceiling row is "
        "leave-one-subject-out agreement among the simulated observers.</p>",
    ]
    # --- the table
    head = ['<th class="name">model</th>', "<th>fixations</th>"]
    for m in names:
        arrow = "↑" if info.get(m, {}).get("higher_is_better", True) else "↓"
        head.append(f'<th title="{esc(info.get(m, {}).get("description", ""))}">{esc(m)} {arrow}</th>')
    head.append('<th title="prediction / scoring time">seconds</th>')
    rows_html = ["<table>", "<tr>" + "".join(head) + "</tr>"]
    scores = {k: v.get("scores", {}) for k, v in models.items()}
    best = {m: _best(scores, m, info.get(m, {}).get("higher_is_better", True)) for m in names}
    for name, r in models.items():
        cells = [
            f'<td class="name" title="{esc(r.get("description", ""))}">{esc(name)}</td>',
            f"<td>{format_cell(r.get('length'))}</td>",
        ]
        for m in names:
            cls = ' class="best"' if best.get(m) == name else ""
            cells.append(f"<td{cls}>{format_cell(r.get('scores', {}).get(m))}</td>")
        cells.append(
            f"<td>{float(r.get('seconds', math.nan)):.2f} / {float(r.get('score_seconds', math.nan)):.2f}</td>"
        )
        rows_html.append("<tr>" + "".join(cells) + "</tr>")
    if human:
        cells = [
            '<td class="name">simulated observers (ceiling)</td>',
            f"<td>{format_cell(human.get('length'))}</td>",
        ]
        cells += [f"<td>{format_cell(human.get('scores', {}).get(m))}</td>" for m in names]
        cells.append(f"<td>– / {float(human.get('seconds', math.nan)):.2f}</td>")
        rows_html.append('<tr class="human">' + "".join(cells) + "</tr>")
    rows_html.append("</table>")
    parts += rows_html
    # --- metric legend
    parts.append("<details><summary>What the metrics mean</summary><ul>")
    for m in names:
        d = info.get(m, {})
        scope = d.get("scope", "")
        parts.append(
            f"<li><code>{esc(m)}</code>: {esc(d.get('description', ''))}{' (' + esc(scope) + ')' if scope else ''}</li>"
        )
    parts.append("</ul></details>")
    # --- models not run
    not_run: dict[str, str] = result.get("not_run", {})
    if not_run:
        parts.append("<h2>Registered models not in the table</h2><ul class='missing'>")
        for name, why in not_run.items():
            parts.append(f"<li><b>{esc(name)}</b>: {esc(why)}</li>")
        parts.append("</ul>")
    # --- gaze following
    gaze = result.get("gaze_following")
    if gaze:
        parts.append(_gaze_table(gaze))
    # --- overlays
    overlays = result.get("overlays", [])
    if overlays:
        parts.append("<h2>Scanpaths on held-out displays</h2>")
        parts.append(
            '<p class="note">Numbered fixations (disc area ∝ duration; the first fixation ringed), saccade lines, '
            "the target's box in green and its picture top left (absent displays show no box). First panel: "
            "simulated observers, one colour each; then one panel per model.</p>"
        )
        root = Path(out_dir) if out_dir is not None else Path(".")
        for ov in overlays:
            rel = str(ov["path"])
            src = _image_src(root / rel, rel, embed_images)
            parts.append(
                f'<figure><img src="{src}" alt="{esc(ov.get("caption", rel))}" loading="lazy">'
                f"<figcaption>{esc(ov.get('caption', rel))}</figcaption></figure>"
            )
    # --- timings and files
    t = result.get("timings", {})
    if t:
        parts.append("<h2>Timings</h2><table>")
        for k, v in t.items():
            parts.append(f'<tr><td class="name">{esc(k)}</td><td>{float(v):.2f} s</td></tr>')
        parts.append("</table>")
    parts.append(
        '<p class="note">Files next to this page: <code>metrics.json</code> (every number above), '
        "<code>predictions.csv</code> (every predicted scanpath, gazekit scanpath CSV), "
        "<code>overlays/</code>. Re-run with <code>gazekit demo --out DIR</code>.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


#: what each gaze-following column means (the demo's table; docs/models.md, GazeSeg, has the full protocol)
GAZE_COLUMN_INFO = {
    "on_target": "share of in-frame people whose heatmap peak falls on the looked-at object (its mask grown 3 px)",
    "dice": "Dice of the predicted mask of the looked-at object",
    "iou": "IoU of the same mask",
    "top1": "class of the looked-at object right (6 shapes)",
    "auc": "GazeFollow AUC of the heatmap against the 10 annotator points",
    "avg_l2": "distance from the heatmap peak to the mean annotator point (image = 1), lower is better",
    "min_l2": "distance to the nearest annotator point, lower is better",
    "ap": "average precision of the in/out-of-frame score",
}


def _plain(v: Any) -> str:
    """A plain number to 3 decimals; an en dash for none."""
    return f"{float(v):.3f}" if isinstance(v, int | float) and math.isfinite(float(v)) else "–"


def _gaze_table(gaze: dict[str, Any]) -> str:
    """The gaze-following section: every gaze model and the any-object control on the same scenes."""
    esc = html.escape
    cols = list(gaze.get("columns", []))
    out = [
        "<h2>Gaze following on held-out synthetic scenes</h2>",
        f'<p class="note">{int(gaze.get("scenes", 0))} test scenes, each person\'s head box given. A model that '
        "predicts only a heatmap answers with the object under its peak, with that object's ground-truth mask "
        "and class; the any-object control is not a model: the ground-truth mask of a random object in the "
        "scene. docs/models.md (GazeSeg) has the protocol and the paper's figures.</p>",
        "<table><tr><th>model</th><th>weights</th><th>how it answers</th>"
        + "".join(f'<th title="{esc(GAZE_COLUMN_INFO.get(c, c))}">{esc(c)}</th>' for c in cols)
        + "</tr>",
    ]
    for name, r in gaze.get("rows", {}).items():
        if "error" in r:
            out.append(f'<tr><td class="name">{esc(name)}</td><td colspan="{len(cols) + 2}">not run: '
                       f"{esc(str(r['error']))}</td></tr>")  # fmt: skip
            continue
        cells = "".join(f"<td>{_plain(r.get(c))}</td>" for c in cols)
        out.append(
            f'<tr><td class="name">{esc(name)}</td><td>{esc(str(r.get("weights", "")))}</td>'
            f"<td>{esc(str(r.get('how', '')))}</td>{cells}</tr>"
        )
    out.append("</table><details><summary>What the columns mean</summary><ul>")
    out += [f"<li><code>{esc(c)}</code>: {esc(GAZE_COLUMN_INFO.get(c, ''))}</li>" for c in cols]
    out.append("</ul></details>")
    return "\n".join(out)


def write_report(path: str | Path, result: dict[str, Any], *, embed_images: bool = False) -> Path:
    """Render ``result`` and write it to ``path`` (atomically); returns the path."""
    p = Path(path)
    atomic_write_text(p, render_report(result, p.parent, embed_images=embed_images))
    return p
