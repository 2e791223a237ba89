"""eccNET benchmarks and tools.

``pool`` (default): eccentricity pooling, one pass (:func:`gazekit.kernels.ecc_pool.ecc_pool`, integral image)
against the release's ring-by-ring algorithm (:func:`ecc_pool_reference`), in one run, on the five pooling
layers eccNET applies to a 1,600 px search crop (the natural-image crop 2·(736 + 64)): layer l sees a
1600/2^(l−1) px map with VGG16's channel count, batch 1. Reports per-layer and whole-pyramid medians, the ratio,
and the largest absolute difference (float32)::

    OMP_NUM_THREADS=1 python benchmarks/eccnet.py pool --size 1600 --repeats 3
    python benchmarks/eccnet.py pool --device cuda          # GPU figure (CUDA synchronised timings)

``export``: a Lightning ``.ckpt`` of the diet recipe → the shipped fp16 safetensors::

    python benchmarks/eccnet.py export --ckpt outputs/eccnet_objects/.../last.ckpt \
        --out gazekit/assets/eccnet/eccnet_objects.safetensors

``search``: seconds per fixation of a model on one display of each paradigm.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from gazekit.kernels.ecc_pool import EccPoolSpec, ecc_pool, ecc_pool_reference
from gazekit.kernels.ecc_pool.reference import ring_layout
from gazekit.models.eccnet import ECC_DEG2PX, ECC_SLOPES, EccNet

CHANNELS = (64, 128, 256, 512, 512)


def _time(fn: Callable[[], torch.Tensor], repeats: int, device: str) -> tuple[float, torch.Tensor]:
    out = fn()  # warm-up (caches the ring layout / gather indices, as in a search)
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def bench_pool(size: int, repeats: int, device: str, channel_scale: float) -> dict:
    rows = []
    for layer in range(5):
        side = max(1, size >> layer)
        c = max(1, int(CHANNELS[layer] * channel_scale))
        spec = EccPoolSpec(slope=ECC_SLOPES[layer], deg2px=ECC_DEG2PX[layer])
        torch.manual_seed(layer)
        x = torch.relu(torch.randn(1, c, side, side, device=device))  # post-ReLU features
        t_ref, ref = _time(lambda x=x, spec=spec: ecc_pool_reference(x, spec), repeats, device)
        t_fast, out = _time(lambda x=x, spec=spec: ecc_pool(x, spec), repeats, device)
        rings = len(ring_layout(side, spec)[1])
        rows.append(
            {
                "layer": layer + 1,
                "input": [c, side, side],
                "rings": rings,
                "ring_by_ring_s": t_ref,
                "one_pass_s": t_fast,
                "speedup": t_ref / t_fast,
                "max_abs_diff": float((out - ref).abs().max()),
            }
        )
        del x, ref, out
    tot_ref = sum(r["ring_by_ring_s"] for r in rows)
    tot_fast = sum(r["one_pass_s"] for r in rows)
    return {
        "size": size,
        "device": device,
        "repeats": repeats,
        "layers": rows,
        "total_ring_by_ring_s": tot_ref,
        "total_one_pass_s": tot_fast,
        "speedup": tot_ref / tot_fast,
    }


def bench_search(weights: str | None, variant: str) -> dict:
    from gazekit.datasets.asymmetry import CONDITIONS, generate_condition
    from gazekit.models.registry import load_predictor

    model = load_predictor("eccnet", weights, variant=variant)
    out = {}
    for cond in ("top_down", "curve_in_lines", "homo_t0", "cross"):
        d = generate_condition(cond, 0, trials=1)[-1]
        stim, task = d.to_stimulus()
        t = time.perf_counter()
        sp = model.predict_scanpath(stim, task)
        dt = time.perf_counter() - t
        out[cond] = {
            "image_px": CONDITIONS[cond].exp.size,
            "fixations": len(sp) - 1,
            "s_per_fixation": dt / max(1, len(sp) - 1),
        }
    return {"variant": variant, "weights": model.weights_source, "displays": out}


def export(ckpt: str, out: str) -> None:
    model = EccNet.from_checkpoint(ckpt)
    p = model.save_checkpoint(out, half=True)
    print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB, fp16)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    p = sub.add_parser("pool")
    p.add_argument("--size", type=int, default=1600)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--channel-scale", type=float, default=1.0, help="fraction of VGG16's channels (memory)")
    p.add_argument("--json", default=None)
    e = sub.add_parser("export")
    e.add_argument("--ckpt", required=True)
    e.add_argument("--out", required=True)
    s = sub.add_parser("search")
    s.add_argument("--weights", default=None)
    s.add_argument("--variant", default="eccnet")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.cmd == "export":
        export(args.ckpt, args.out)
        return 0
    if args.cmd == "search":
        print(json.dumps(bench_search(args.weights, args.variant), indent=1))
        return 0
    size = getattr(args, "size", 1600)
    device = getattr(args, "device", "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: no GPU figure measured", file=sys.stderr)
        return 2
    res = bench_pool(size, getattr(args, "repeats", 3), device, getattr(args, "channel_scale", 1.0))
    for r in res["layers"]:
        print(
            f"pool{r['layer']}  {r['input']}  rings {r['rings']:>3}  ring-by-ring {r['ring_by_ring_s'] * 1e3:9.1f} ms  "
            f"one pass {r['one_pass_s'] * 1e3:8.1f} ms  x{r['speedup']:6.1f}  max|diff| {r['max_abs_diff']:.2e}"
        )
    print(
        f"all five pools at {size} px ({device}, torch threads {torch.get_num_threads()}): ring-by-ring "
        f"{res['total_ring_by_ring_s']:.2f} s, one pass {res['total_one_pass_s']:.3f} s, x{res['speedup']:.1f}"
    )
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
