"""OAT decoding throughput: scanpaths per second on 84-object displays, batched greedy decoding,
cached (encoder once + per-layer decoder K/V cache) vs uncached (the release's way: encoder, crop CNN and the
whole decoder prefix re-run at every step).

    python benchmarks/oat.py                 # 2 CPU threads, both model sizes
    python benchmarks/oat.py --device cuda   # on a GPU when one is available
    python benchmarks/oat.py --train          # training steps: trial batches passed through vs Lightning's copy

Displays: the synthetic world's 6x14 grid (84 objects + target token), crops 93x150 px. Timings are the best
of ``--repeats`` runs after one warm-up; decoded sequences are checked to be identical in both modes.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch


def displays(n: int, seed: int = 0):
    from gazekit.datasets.synthetic.search import SearchWorldConfig, render_display
    from gazekit.types import Task

    cfg = SearchWorldConfig(min_objects=84, max_objects=84, layouts=("grid",), p_target_present=1.0)
    stims = [render_display(cfg, 1000 * seed + i) for i in range(n)]
    assert all(len(s.objects) == 84 for s in stims)
    return stims, [Task("search", s.target) for s in stims]


def _sync(device: str | torch.device) -> None:
    """Wait for queued GPU work before reading the clock (CUDA runs asynchronously)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def bench(model, batch, use_cache: bool, repeats: int, max_len: int):
    # min_len = max_len: an untrained model would stop at random; full-length scanpaths in both modes
    model.decode(batch, greedy=True, use_cache=use_cache, max_len=max_len, min_len=max_len)  # warm-up
    best, seqs = float("inf"), None
    for _ in range(repeats):
        _sync(batch.n_obj.device)
        t = time.perf_counter()
        seqs = model.decode(batch, greedy=True, use_cache=use_cache, max_len=max_len, min_len=max_len)
        _sync(batch.n_obj.device)
        best = min(best, time.perf_counter() - t)
    return best, seqs


def bench_train(threads: int, device: str, repeats: int) -> list[dict]:
    """Training steps per second on the synthetic crop recipe's batches (2 whole displays x 10 observers),
    with OAT's batch transfer (trial lists passed through) vs Lightning's default (which deep-copies every
    trial and image, so the per-display encoding cache never hits). Second epoch timed: steady state."""
    import lightning.pytorch as pl

    from gazekit.datasets.search_trials import OATSyntheticDataModule
    from gazekit.models.oat import OAT

    dm = OATSyntheticDataModule(n_displays=20, n_subjects=10, world_seed=0, max_objects=40, batch_size=20)
    dm.setup()
    batches = list(dm.train_dataloader())
    small = {"d_model": 128, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 256}
    rows = []
    for mode in ("pass-through", "lightning-copy"):
        best = float("inf")
        for _ in range(repeats):
            model = OAT(appearance="crop", pe_rows=16, max_len=16, grid_rows=8, grid_cols=14, seed=0, **small)
            model = model.to(device).train()
            opt = torch.optim.Adam(model.parameters(), 5e-4)
            transfer = (
                model.transfer_batch_to_device
                if mode == "pass-through"
                else (lambda b, d, i, m=model: pl.LightningModule.transfer_batch_to_device(m, b, d, i))
            )
            for epoch in range(2):
                _sync(device)
                t = time.perf_counter()
                for b in batches:
                    loss, _ = model.loss(model._as_batch(transfer(b, torch.device(device), 0)))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                _sync(device)
                if epoch == 1:
                    best = min(best, time.perf_counter() - t)
        rows.append({"mode": mode, "device": device, "threads": threads, "steps_per_s": len(batches) / best})
        print(f"train {mode:14s} {device} x{threads}: {len(batches) / best:.2f} steps/s ({len(batches)} steps)")
    print(f"pass-through / lightning-copy: {rows[0]['steps_per_s'] / rows[1]['steps_per_s']:.1f}x", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16, help="displays decoded together")
    ap.add_argument("--max-len", type=int, default=16, help="object fixations decoded (EOS forced after)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", nargs="*", default=["small", "paper"])
    ap.add_argument(
        "--appearance",
        nargs="*",
        default=["crop", "vector"],
        help="crop: the release's CNN on 93x150 crops; vector: given per-object vectors (no CNN)",
    )
    ap.add_argument("--train", action="store_true", help="time training steps instead of decoding")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.train:
        rows = bench_train(args.threads, args.device, args.repeats)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"rows": rows, "torch": torch.__version__}, f, indent=1)
        return

    from gazekit.models.oat import OAT

    sizes = {
        "small": {"d_model": 128, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 256},
        "paper": {"d_model": 512, "nhead": 4, "num_encoder_layers": 4, "num_decoder_layers": 4, "dim_feedforward": 512},
    }
    stims, tasks = displays(args.batch)
    rows = []
    for name, app in [(n, a) for a in args.appearance for n in args.sizes]:
        kw = {"appearance": app}
        if app == "vector":  # words of the synthetic categories (as the bundled checkpoint)
            kw.update(categories=["red", "green", "blue", "circle", "square", "solid", "striped"], category_words=True)
        model = OAT(**sizes[name], **kw, max_len=args.max_len, pe_rows=16, seed=0).to(args.device).eval()
        from gazekit.datasets.search_trials import Trial

        batch = model.tensorizer.collate_trials([Trial(s, t) for s, t in zip(stims, tasks, strict=True)])
        batch = batch.to(args.device)
        n_obj_steps = None
        res = {}
        for cached in (True, False):
            secs, seqs = bench(model, batch, cached, args.repeats, args.max_len)
            res[cached] = (secs, seqs)
            n_obj_steps = sum(len(s) + 1 for s in seqs) / len(seqs)
        assert res[True][1] == res[False][1], "cached and uncached decoding differ"
        c, u = res[True][0], res[False][0]
        rows.append(
            {
                "model": name,
                "appearance": app,
                "device": args.device,
                "threads": args.threads,
                "batch": args.batch,
                "steps_per_scanpath": n_obj_steps,
                "cached_scanpaths_per_s": args.batch / c,
                "uncached_scanpaths_per_s": args.batch / u,
                "speedup": u / c,
            }
        )
        r = rows[-1]
        print(
            f"{name:6s} {app:6s} {args.device} x{args.threads}: cached {r['cached_scanpaths_per_s']:.2f}/s, "
            f"uncached {r['uncached_scanpaths_per_s']:.3f}/s, speedup {r['speedup']:.1f}x "
            f"({n_obj_steps:.1f} decoder steps per scanpath, batch {args.batch})",
            flush=True,
        )
    meta = {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "meta": meta}, f, indent=1)


if __name__ == "__main__":
    main()
