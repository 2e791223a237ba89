"""``gazekit asymmetry``: eccNET's visual-search-asymmetry experiment in one command.

For every model (and eccNET/IVSN variant) and the weight-free baselines ``chance`` and ``pixelMatch``: search
every display of the six paradigms (:mod:`gazekit.datasets.asymmetry`), turn fixations into reaction times
(``RT = 252.359 · n_fix + 376.271`` ms; a never-found trial counts ``n_fix = set size``), fit RT on set size per
condition, and compute the asymmetry index per pair (H = the condition with the larger *human* slope;
``AI = (s_H − s_L) / (s_H + s_L)`` with ``s = max(0, slope)``, 0 when both are 0) and its mean over the six pairs
(``vs_exp/rt_plot.py``, ``eval_asym_metric.py``). Writes ``trials.csv``, ``results.json`` and ``report.html`` (one
RT-vs-set-size plot per paradigm with the human curves; the index table beside the paper's models)::

    gazekit asymmetry --model eccnet --out runs/asym
    gazekit asymmetry --model eccnet --weights vgg16-397923af.pth --variants all --out runs/asym_imagenet
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gazekit.datasets.asymmetry import CONDITIONS, HUMAN_RT, PAIRS, generate_all, load_asymmetry
from gazekit.errors import ConfigError
from gazekit.metrics.search import asymmetry_index, rt_from_fixations, search_slope
from gazekit.models.registry import load_predictor

__all__ = ["PAPER_MEAN_AI", "PAPER_PAIR_AI", "add_arguments", "asymmetry_scores", "run", "run_experiment"]

#: mean asymmetry index of the paper's models (``generateAsymIndex.ipynb``; Fig. 5B)
PAPER_MEAN_AI: dict[str, float] = {
    "Humans": 0.564,
    "eccNET": 0.513,
    "IVSN": 0.316,
    "eccNET_MNIST": 0.185,
    "eccNET 18→17": 0.084,
    "eccNET_noecc": 0.052,
    "chance": -0.003,
    "GBVS": -0.018,
    "pixelMatch": -0.178,
    "eccNET_Rot90": -0.405,
}
#: per-pair indices (pair order of :data:`~gazekit.datasets.asymmetry.PAIRS`) where the reference gives them
PAPER_PAIR_AI: dict[str, tuple[float, ...]] = {
    "Humans": (0.809, 0.701, 0.362, 0.404, 0.611, 0.500),
    "eccNET": (1.0, 1.0, 0.495, 0.789, -1.0, 0.791),
    "IVSN": (0.83, 0.988, -0.631, 0.29, -0.581, 1.0),
}

#: which paper model each of ours corresponds to (for the table)
PAPER_NAME = {
    "eccnet": "eccNET",
    "eccnet_0_0_1": "eccNET 18→17",
    "noecc": "eccNET_noecc",
    "ivsn": "IVSN",
    "ivsn_original": None,
    "chance": "chance",
    "pixelMatch": "pixelMatch",
}
BASELINES = ("chance", "pixelMatch")
VARIANT_MODELS = {"eccnet": ("eccnet", "eccnet_0_0_1", "noecc"), "ivsn": ("ivsn", "ivsn_original")}


def _pair_ai(s_hard: float, s_easy: float) -> float:
    """``asymmetry_index`` of one pair; 0 (not NaN) when both slopes are <= 0, as ``calcAsymScore``."""
    ai = asymmetry_index(s_hard, s_easy)
    return 0.0 if np.isnan(ai) else ai


def asymmetry_scores(rt: dict[str, dict[int, float]]) -> dict[str, Any]:
    """Slopes, per-pair indices and their mean from mean RT per condition and set size.

    Args:
        rt: ``{condition: {set size: mean RT ms}}`` for all 12 conditions.

    Returns:
        ``{"slopes": {cond: ms/item}, "pairs": {pair: AI}, "mean_ai": float, "r_human": Pearson r of the 12
        slopes against the human slopes}``.
    """
    missing = [c for c in CONDITIONS if c not in rt]
    if missing:
        raise ConfigError(f"asymmetry scores need every condition; missing {missing}")
    slopes = {c: search_slope(sorted(rt[c]), [rt[c][s] for s in sorted(rt[c])]) for c in CONDITIONS}
    pairs = {name: _pair_ai(slopes[h], slopes[e]) for name, h, e in PAIRS}
    human = human_slopes()
    a = np.array([slopes[c] for c in CONDITIONS])
    b = np.array([human[c] for c in CONDITIONS])
    r = float(np.corrcoef(a, b)[0, 1]) if np.ptp(a) > 0 else float("nan")
    return {"slopes": slopes, "pairs": pairs, "mean_ai": float(np.mean(list(pairs.values()))), "r_human": r}


def human_rt() -> dict[str, dict[int, float]]:
    """The human mean RT curves keyed like model results."""
    return {c: dict(zip(CONDITIONS[c].set_sizes, HUMAN_RT[c], strict=True)) for c in CONDITIONS}


def human_slopes() -> dict[str, float]:
    return {c: search_slope(CONDITIONS[c].set_sizes, HUMAN_RT[c]) for c in CONDITIONS}


def _run_model(label: str, predictor: Any, data: dict[str, list[Any]], log: Any) -> list[dict[str, Any]]:
    rows = []
    t0 = time.perf_counter()
    for cname, displays in data.items():
        for d in displays:
            stim, task = d.to_stimulus()
            sp = predictor.predict_scanpath(stim, task)
            n_fix = int(sp.meta["n_fix"]) if sp.found else d.set_size
            rows.append(
                {
                    "model": label,
                    "condition": cname,
                    "trial": d.trial,
                    "set_size": d.set_size,
                    "found": bool(sp.found),
                    "n_saccades": int(sp.meta["n_fix"]),
                    "n_fix": n_fix,
                    "rt_ms": float(rt_from_fixations(n_fix)),
                }
            )
        log(f"  {label}: {cname} done ({time.perf_counter() - t0:.0f} s)")
    return rows


def _mean_rt(rows: Sequence[dict[str, Any]]) -> dict[str, dict[int, float]]:
    acc: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        acc.setdefault(r["condition"], {}).setdefault(int(r["set_size"]), []).append(float(r["rt_ms"]))
    return {c: {s: float(np.mean(v)) for s, v in sorted(d.items())} for c, d in acc.items()}


def run_experiment(models: Sequence[tuple[str, Any]], data: dict[str, list[Any]], log: Any = print) -> dict[str, Any]:
    """Search every display with every ``(label, predictor)``; returns per-trial rows and per-model scores."""
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {"Humans": {"rt": human_rt(), **asymmetry_scores(human_rt())}}
    for label, pred in models:
        r = _run_model(label, pred, data, log)
        rows += r
        rt = _mean_rt(r)
        results[label] = {
            "rt": rt,
            **asymmetry_scores(rt),
            "found_rate": float(np.mean([x["found"] for x in r])),
            "weights": getattr(pred, "weights_source", None) or "none",
        }
    return {"rows": rows, "results": results, "n_displays": sum(len(v) for v in data.values())}


# --------------------------------------------------------------------------------------------- report
_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


def rt_plot_svg(title: str, hard: str, easy: str, results: dict[str, Any], width: int = 420, height: int = 300) -> str:
    """One paradigm: RT (ms) vs set size for both conditions (solid: the harder for people; dashed: the easier),
    humans in black, each model in its colour. Self-contained SVG."""
    series = []
    for i, (label, res) in enumerate(results.items()):
        colour = "#000" if label == "Humans" else _COLOURS[(i - 1) % len(_COLOURS)]
        for cond, dash in ((hard, ""), (easy, "5,4")):
            pts = sorted((int(k), float(v)) for k, v in res["rt"][cond].items())
            series.append((label, cond, colour, dash, pts))
    xs = [p[0] for s in series for p in s[4]]
    ys = [p[1] for s in series for p in s[4]]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = 0.08 * (y1 - y0 or 1.0)
    y0, y1 = y0 - pad, y1 + pad
    L, R, T, B = 52, 150, 26, 36
    pw, ph = width - L - R, height - T - B

    def sx(v: float) -> float:
        return L + (v - x0) / ((x1 - x0) or 1) * pw

    def sy(v: float) -> float:
        return T + (1 - (v - y0) / ((y1 - y0) or 1)) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="10" '
        'font-family="sans-serif">',
        f'<text x="{L}" y="14" font-size="12" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
    ]
    for s in sorted(set(xs)):
        out.append(f'<text x="{sx(s):.1f}" y="{T + ph + 14}" text-anchor="middle">{s}</text>')
    for v in np.linspace(y0, y1, 5):
        out.append(f'<text x="{L - 4}" y="{sy(v) + 3:.1f}" text-anchor="end">{v:.0f}</text>')
    out.append(f'<text x="{L + pw / 2}" y="{height - 4}" text-anchor="middle">set size</text>')
    out.append(
        f'<text x="12" y="{T + ph / 2}" transform="rotate(-90 12 {T + ph / 2})" text-anchor="middle">RT (ms)</text>'
    )
    legend_y = T
    for label, cond, colour, dash, pts in series:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}"/>'
        )
        for x, y in pts:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.2" fill="{colour}"/>')
        out.append(
            f'<line x1="{L + pw + 8}" y1="{legend_y + 4}" x2="{L + pw + 26}" y2="{legend_y + 4}" stroke="{colour}" '
            f'stroke-width="1.6" stroke-dasharray="{dash}"/>'
        )
        out.append(f'<text x="{L + pw + 30}" y="{legend_y + 7}">{html.escape(f"{label}: {cond}")}</text>')
        legend_y += 12
    out.append("</svg>")
    return "\n".join(out)


def _fmt(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def render_report(res: dict[str, Any], meta: dict[str, Any]) -> str:
    """The HTML report: the index table (ours beside the paper's) and one RT plot per paradigm."""
    results = res["results"]
    pair_names = [p[0] for p in PAIRS]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in pair_names)
    rows = []
    for label, r in results.items():
        key = label.split(" [")[0]
        paper = PAPER_MEAN_AI.get("Humans" if label == "Humans" else (PAPER_NAME.get(key) or ""))
        cells = "".join(f"<td>{_fmt(r['pairs'][n])}</td>" for n in pair_names)
        rows.append(
            f"<tr><td class=name>{html.escape(label)}</td>{cells}<td><b>{_fmt(r['mean_ai'])}</b></td>"
            f"<td>{_fmt(paper)}</td><td>{_fmt(r['r_human'])}</td><td>{html.escape(str(r.get('weights', '')))}</td></tr>"
        )
    paper_rows = "".join(
        f"<tr><td class=name>{html.escape(k)}</td><td>{v:.3f}</td></tr>" for k, v in PAPER_MEAN_AI.items()
    )
    slopes_head = "".join(f"<th>{html.escape(c)}</th>" for c in CONDITIONS)
    slope_rows = "".join(
        f"<tr><td class=name>{html.escape(label)}</td>"
        + "".join(f"<td>{r['slopes'][c]:.1f}</td>" for c in CONDITIONS)
        + "</tr>"
        for label, r in results.items()
    )
    plots = "".join(f"<figure>{rt_plot_svg(n, h, e, results)}</figure>" for n, h, e in PAIRS)
    css = (
        "body{font-family:sans-serif;margin:2em auto;max-width:1300px}table{border-collapse:collapse;font-size:.85em}"
        "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}td.name{text-align:left}"
        "figure{display:inline-block;margin:.5em}"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>gazekit asymmetry</title><style>{css}</style>
</head><body><h1>Visual-search asymmetry (eccNET protocol)</h1>
<p>{res["n_displays"]} displays ({html.escape(json.dumps(meta))}). RT = 252.359·n_fix + 376.271 ms; an unfound trial
counts n_fix = set size. AI per pair = (s_H − s_L)/(s_H + s_L), H = the condition people find harder; the paper's
mean AI of the matching model is shown beside ours (different weights and stimuli: see docs/models.md).</p>
<h2>Asymmetry index</h2><table><tr><th>model</th>{head}<th>mean AI</th><th>paper mean AI</th>
<th>r(slopes, human)</th><th>weights</th></tr>{"".join(rows)}</table>
<h3>The paper's models (mean AI, Fig. 5B)</h3><table>{paper_rows}</table>
<h2>RT vs set size</h2>{plots}
<h2>Slopes (ms/item)</h2><table><tr><th>model</th>{slopes_head}</tr>{slope_rows}</table>
</body></html>"""


def write_outputs(out: Path, res: dict[str, Any], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "trials.csv", "w", newline="") as f:
        if res["rows"]:
            w = csv.DictWriter(f, fieldnames=list(res["rows"][0]))
            w.writeheader()
            w.writerows(res["rows"])
    slim = {k: v for k, v in res.items() if k != "rows"}
    slim["meta"] = meta
    slim["paper_mean_ai"] = PAPER_MEAN_AI
    (out / "results.json").write_text(json.dumps(slim, indent=1, default=str))
    (out / "report.html").write_text(render_report(res, meta))


# --------------------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=None, help="eccnet and/or ivsn (repeatable; default eccnet)")
    p.add_argument("--weights", default=None, help="weights for the models (path; default: the resolver's)")
    p.add_argument(
        "--variants",
        default="default",
        help="comma list of variants (eccnet, eccnet_0_0_1, noecc, ivsn, ivsn_original), 'default' (the model's "
        "own) or 'all' (every variant of the given models)",
    )
    p.add_argument("--out", required=True, help="output folder (trials.csv, results.json, report.html)")
    p.add_argument("--data", default=None, help="a saved asymmetry set (gazekit.datasets.asymmetry.save_asymmetry)")
    p.add_argument("--seed", type=int, default=0, help="generator seed when no --data is given")
    p.add_argument("--trials", type=int, default=None, help="displays per set size (default: as released, 30/36)")
    p.add_argument("--tag", default=None, help="appended to the model labels (e.g. the training diet)")
    p.add_argument("--no-baselines", action="store_true", help="skip chance and pixelMatch")
    p.add_argument("--only-baselines", action="store_true", help="run chance and pixelMatch only (no weights)")
    p.add_argument(
        "--combine",
        nargs="+",
        default=None,
        metavar="RUN",
        help="instead of running: merge earlier output folders (their results.json and trials.csv) into one report",
    )


def _variants(models: Sequence[str], spec: str) -> list[tuple[str, str]]:
    """``[(model, variant)]`` to run."""
    if spec == "default":
        return [(m, m) for m in models]
    if spec == "all":
        return [(m, v) for m in models for v in VARIANT_MODELS[m]]
    out = []
    for v in (s.strip() for s in spec.split(",") if s.strip()):
        owner = next((m for m, vs in VARIANT_MODELS.items() if v in vs), None)
        if owner is None:
            raise ConfigError(f"unknown variant {v!r}; expected one of {sorted(sum(VARIANT_MODELS.values(), ()))}")
        out.append((owner, v))
    return out


def combine(runs: Sequence[str | Path], out: Path) -> dict[str, Any]:
    """Merge the outputs of several runs (e.g. variants run in parallel) into one report in ``out``."""
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    metas, n = [], 0
    for r in runs:
        d = Path(r)
        try:
            js = json.loads((d / "results.json").read_text())
            with open(d / "trials.csv", newline="") as f:
                rows += list(csv.DictReader(f))
        except (OSError, ValueError) as e:
            raise ConfigError(f"--combine {d}: not an asymmetry output folder ({e})") from None
        for label, res in js["results"].items():
            res["rt"] = {c: {int(k): v for k, v in per.items()} for c, per in res["rt"].items()}
            results.setdefault(label, res)
        metas.append(js.get("meta", {}))
        n = max(n, int(js.get("n_displays", 0)))
    res = {"rows": rows, "results": results, "n_displays": n}
    write_outputs(out, res, {"combined": [str(r) for r in runs], "runs": metas})
    return res


def run(args: argparse.Namespace) -> int:
    if getattr(args, "combine", None):
        res = combine(args.combine, Path(args.out))
        for label, r in res["results"].items():
            print(f"{label:<34} mean AI {_fmt(r['mean_ai'])}  " + " ".join(_fmt(v) for v in r["pairs"].values()))
        print(f"wrote {Path(args.out) / 'report.html'}")
        return 0
    models = args.model or ["eccnet"]
    bad = [m for m in models if m not in VARIANT_MODELS]
    if bad:
        raise ConfigError(f"--model {bad[0]!r}: the asymmetry experiment runs eccnet and ivsn (baselines are added)")
    if args.trials is not None and args.trials < 1:
        raise ConfigError("--trials must be >= 1")
    data = load_asymmetry(args.data) if args.data else generate_all(args.seed, args.trials)
    if args.data and args.trials:
        data = {c: [d for d in v if (d.trial - 1) % CONDITIONS[c].exp.trials < args.trials] for c, v in data.items()}
    preds: list[tuple[str, Any]] = []
    if not args.no_baselines:
        preds += [(b, load_predictor(b)) for b in BASELINES]
    if not args.only_baselines:
        for model, variant in _variants(models, args.variants):
            p = load_predictor(model, args.weights, variant=variant)
            tag = f", {args.tag}" if getattr(args, "tag", None) else ""
            preds.append((f"{variant} [{getattr(p, 'weights_source', None) or 'untrained'}{tag}]", p))
    meta = {
        "seed": args.seed,
        "trials_per_set_size": args.trials or "as released",
        "data": args.data or "generated",
        "weights": args.weights,
    }
    print(f"asymmetry: {sum(len(v) for v in data.values())} displays, {len(preds)} models")
    res = run_experiment(preds, data, log=lambda s: print(s, flush=True))
    out = Path(args.out)
    write_outputs(out, res, meta)
    for label, r in res["results"].items():
        print(f"{label:<34} mean AI {_fmt(r['mean_ai'])}  " + " ".join(_fmt(v) for v in r["pairs"].values()))
    print(f"wrote {out / 'report.html'}")
    return 0
