"""NevaClip: scanpaths/s of the batched optimisation vs the release's one-image loop, in one run.

    python benchmarks/nevaclip.py [--batch 8] [--repeats 3] [--threads 1] [--device cpu|cuda] [--model synthetic|rn50]

Both run the full release schedule (10 fixations x 20 signed-gradient steps, restarts on) on the same ``batch``
images, targets and restart draws: the loop (:func:`~gazekit.models.nevaclip.release_loop`) one image at a time as
the release's ``run_optimization`` does with batch 1, the batched :func:`~gazekit.models.nevaclip.optimise_scanpaths`
all rows at once, with the release's settings (``'ij'``, stepped record, unclamped). Their positions are reported
(``max_position_difference``, ``equal_positions``): they agree exactly unless float rounding that differs between
batch sizes (convolution algorithms chosen per shape) flips a gradient sign or a loss comparison.
``--model synthetic`` is the bundled small CLIP's architecture (128 px); ``rn50`` OpenAI's RN50 at 224 px (random
weights: speed does not depend on them). Timings: median of ``--repeats`` after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from gazekit.backbones.clip import RN50_CONFIG
from gazekit.models.nevaclip import NevaClip, optimise_scanpaths, release_loop

SYNTHETIC = {
    "embed_dim": 64,
    "vision": {"type": "resnet", "layers": [1, 1, 1, 1], "width": 8, "heads": 4, "image_size": 128},
    "text": {"vocab_size": 611, "context_length": 16, "width": 64, "layers": 2, "heads": 2},
}


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if args.model == "rn50":
        m = NevaClip(RN50_CONFIG, image_size=224)
    else:
        m = NevaClip(SYNTHETIC, image_size=128, blur_kernel=23, blur_sigma=5.7)
    m = m.to(dev).eval().requires_grad_(False)
    h = m.hparams
    size, L, K = int(h.image_size), int(h.length), int(h.steps)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, size, size, generator=g).to(dev)
    t = torch.randn(args.batch, m.clip.text.proj.out_features, generator=g).to(dev)
    d = (torch.rand(args.batch, L, K, 2, generator=g) * 2 - 1).to(dev)
    common = {"length": L, "steps": K, "kernel_size": int(h.blur_kernel), "blur_sigma": float(h.blur_sigma)}
    enc = m.clip.encode_image

    def loop() -> torch.Tensor:
        return release_loop(enc, x, t, d, **common)

    def batched() -> torch.Tensor:
        return optimise_scanpaths(enc, x, t, d, axis_order="ij", record="stepped", **common).positions

    def timed(fn) -> tuple[float, torch.Tensor]:  # noqa: ANN001
        out = fn()  # warm-up
        ts = []
        for _ in range(args.repeats):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts), out

    tl, pl = timed(loop)
    tb, pb = timed(batched)
    return {
        "model": args.model,
        "image_size": size,
        "batch": args.batch,
        "device": str(dev),
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "loop_scanpaths_per_s": args.batch / tl,
        "batched_scanpaths_per_s": args.batch / tb,
        "speedup": tl / tb,
        "max_position_difference": float((pl - pb).abs().max()),
        "equal_positions": float(((pl - pb).abs() < 1e-6).all(-1).float().mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", choices=["synthetic", "rn50"], default="synthetic")
    print(json.dumps(run(ap.parse_args()), indent=1))


if __name__ == "__main__":
    main()
