"""Attention-kernel benchmark: Triton neighbourhood attention vs FlexAttention-NA vs dense SDPA, and the fused
attention-pooling kernel vs the materialised map.

CUDA only (timings with ``triton.testing.do_bench``, warm-up/rep in ms; memory from ``max_memory_allocated``)::

    python benchmarks/attention.py                      # full sweep, bf16
    python benchmarks/attention.py --maps 32 64 --kernels 7 --json out.json

On a machine without CUDA it exits with status 2 and a message; ``--cpu-smoke`` instead runs a tiny CPU pass
over the same code paths (reference / SDPA compositions; Triton too when ``TRITON_INTERPRET=1``) to check that
the script works. CPU smoke timings are not benchmark figures.

Figures: NA throughput is reported as effective TFLOP/s, 4·B·heads·N·k²·D / t (×2.5 for forward+backward),
plus the dense-equivalent 4·B·heads·N²·D / t; pooling as ms and peak extra memory. Goals (issue 5): NA ≥ 1.0×
FlexAttention-NA at every size and ≥ 3× dense SDPA at 64×64 with kernel 7; pooling ≥ 5× the materialised map
at N ≥ 1024 with O(N) memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------- timing helpers
def _bench_cuda(fn: Callable[[], object]) -> tuple[float, float]:
    """(median ms, peak extra MiB) of ``fn`` on CUDA."""
    import triton.testing

    fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    mem = (torch.cuda.max_memory_allocated() - base) / 2**20
    ms = triton.testing.do_bench(fn, warmup=25, rep=100, quantiles=[0.5, 0.2, 0.8])[0]
    return float(ms), float(mem)


def _bench_cpu(fn: Callable[[], object], reps: int = 3) -> tuple[float, float]:
    fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return 1e3 * sorted(t)[len(t) // 2], float("nan")


def _fwd_bwd(f: Callable[[], torch.Tensor], inputs: list[torch.Tensor]) -> Callable[[], object]:
    def run() -> object:
        out = f()
        grad = torch.ones_like(out)
        return torch.autograd.grad(out, inputs, grad)

    return run


# ---------------------------------------------------------------------------- neighbourhood attention
def _flex_na(h: int, w: int, k: int, heads: int, b: int, device: str, compiled: bool):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    def start(x, length):
        return torch.clamp(torch.clamp(x - k // 2, min=0), max=length - k)

    def mask_mod(b_, h_, qi, ki):
        qr, qc, kr, kc = qi // w, qi % w, ki // w, ki % w
        dr, dc = kr - start(qr, h), kc - start(qc, w)
        return (dr >= 0) & (dr < k) & (dc >= 0) & (dc < k)

    bm = create_block_mask(mask_mod, b, heads, h * w, h * w, device=device)
    fa = torch.compile(flex_attention) if compiled else flex_attention
    return lambda q, k_, v: fa(q, k_, v, block_mask=bm)


def bench_na(args: argparse.Namespace, device: str) -> list[dict]:
    from gazekit.kernels.neighborhood import na2d_reference, na2d_sdpa
    from gazekit.kernels.neighborhood.triton import NeighborhoodAttention2DFunction

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    if device == "cpu":
        dtype = torch.float32
    bench = _bench_cuda if device == "cuda" else _bench_cpu
    rows = []
    for side in args.maps:
        for k in args.kernels:
            if side < k:
                continue
            for d in args.dims:
                b, nh, n = args.batch, args.heads, side * side
                shape = (b, side, side, nh, d)
                q, kk, v = (torch.randn(shape, device=device, dtype=dtype, requires_grad=True) for _ in range(3))
                scale = d**-0.5
                flat = [
                    t.detach().reshape(b, n, nh, d).transpose(1, 2).contiguous().requires_grad_() for t in (q, kk, v)
                ]
                cases: dict[str, tuple[Callable[[], torch.Tensor], list[torch.Tensor]]] = {}
                if device == "cuda" or args.interpret:
                    cases["triton-na"] = (
                        lambda q=q, kk=kk, v=v, k=k, s=scale: NeighborhoodAttention2DFunction.apply(
                            q, kk, v, None, (k, k), (1, 1), s
                        ),
                        [q, kk, v],
                    )
                else:
                    cases["reference-na"] = (lambda q=q, kk=kk, v=v, k=k: na2d_reference(q, kk, v, (k, k)), [q, kk, v])
                    cases["sdpa-mask-na"] = (lambda q=q, kk=kk, v=v, k=k: na2d_sdpa(q, kk, v, (k, k)), [q, kk, v])
                try:
                    flex = _flex_na(side, side, k, nh, b, device, compiled=device == "cuda")
                    # FlexAttention has no CPU backward: forward only there, on inputs without grad
                    fins = flat if device == "cuda" else [t.detach() for t in flat]
                    cases["flex-na"] = (lambda flex=flex, f=fins: flex(*f), fins)
                except Exception as e:  # pragma: no cover - depends on the torch build
                    print(f"# flex-na unavailable: {type(e).__name__}: {e}", file=sys.stderr)
                cases["dense-sdpa"] = (
                    lambda f=flat, s=scale: torch.nn.functional.scaled_dot_product_attention(*f, scale=s),
                    flat,
                )
                eff = 4 * b * nh * n * k * k * d
                dense = 4 * b * nh * n * n * d
                for name, (f, ins) in cases.items():
                    for mode in ("fwd", "fwd+bwd"):
                        if mode == "fwd+bwd" and not all(t.requires_grad for t in ins):
                            continue
                        try:
                            fn = f if mode == "fwd" else _fwd_bwd(f, ins)
                            if mode == "fwd":
                                with torch.no_grad():
                                    ms, mem = bench(fn)
                            else:
                                ms, mem = bench(fn)
                        except Exception as e:  # pragma: no cover - report and continue the sweep
                            print(f"# {name} {mode} {side}x{side} k{k} d{d} failed: {e}", file=sys.stderr)
                            continue
                        mult = 1.0 if mode == "fwd" else 2.5
                        rows.append(
                            {
                                "op": "na2d",
                                "impl": name,
                                "mode": mode,
                                "map": f"{side}x{side}",
                                "kernel": k,
                                "d": d,
                                "ms": ms,
                                "tflops_eff": mult * eff / (ms * 1e-3) / 1e12,
                                "tflops_dense_equiv": mult * dense / (ms * 1e-3) / 1e12,
                                "mem_mib": mem,
                            }
                        )
                        print(_fmt(rows[-1]), flush=True)
    return rows


# ---------------------------------------------------------------------------- attention pooling
def bench_pool(args: argparse.Namespace, device: str) -> list[dict]:
    from gazekit.kernels.attn_pool import attention_pool_reference
    from gazekit.kernels.attn_pool.triton import AttentionPoolFunction

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    if device == "cpu":
        dtype = torch.float32
    bench = _bench_cuda if device == "cuda" else _bench_cpu
    rows = []
    for n in args.pool_n:
        b, nh, d = args.batch, 6, 64
        q = torch.randn(b, nh, n, d, device=device, dtype=dtype, requires_grad=True)
        k = torch.randn(b, nh, n, d, device=device, dtype=dtype, requires_grad=True)
        w = torch.softmax(torch.randn(b, n, device=device), -1).requires_grad_()
        cases = {"materialised": lambda q=q, k=k, w=w: attention_pool_reference(q, k, w.to(q.dtype))}
        if device == "cuda" or args.interpret:
            cases["triton-pool"] = lambda q=q, k=k, w=w, s=d**-0.5: AttentionPoolFunction.apply(q, k, w, s)
        for name, f in cases.items():
            for mode in ("fwd", "fwd+bwd"):
                try:
                    if mode == "fwd":
                        with torch.no_grad():
                            ms, mem = bench(f)
                    else:
                        ms, mem = bench(_fwd_bwd(f, [q, k, w]))
                except Exception as e:  # pragma: no cover
                    print(f"# {name} {mode} N={n} failed: {e}", file=sys.stderr)
                    continue
                rows.append({"op": "attn_pool", "impl": name, "mode": mode, "n": n, "d": d, "ms": ms, "mem_mib": mem})
                print(_fmt(rows[-1]), flush=True)
    return rows


def _fmt(r: dict) -> str:
    parts = [f"{k}={v:.3f}" if isinstance(v, float) and not math.isnan(v) else f"{k}={v}" for k, v in r.items()]
    return " ".join(parts)


def _markdown(rows: list[dict], device: str) -> str:
    out = [f"Device: {device}", ""]
    na = [r for r in rows if r["op"] == "na2d"]
    if na:
        out += [
            "| map | k | d | impl | mode | ms | eff. TFLOP/s | dense-equiv. TFLOP/s | extra MiB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {r['map']} | {r['kernel']} | {r['d']} | {r['impl']} | {r['mode']} | {r['ms']:.3f} | "
            f"{r['tflops_eff']:.1f} | {r['tflops_dense_equiv']:.1f} | {r['mem_mib']:.0f} |"
            for r in na
        ]
    pool = [r for r in rows if r["op"] == "attn_pool"]
    if pool:
        out += ["", "| N | impl | mode | ms | extra MiB |", "|---|---|---|---|---|"]
        out += [f"| {r['n']} | {r['impl']} | {r['mode']} | {r['ms']:.3f} | {r['mem_mib']:.0f} |" for r in pool]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny CPU run of the code paths (not a benchmark)")
    p.add_argument("--maps", type=int, nargs="+", default=[14, 24, 32, 48, 64], help="square map sides")
    p.add_argument("--kernels", type=int, nargs="+", default=[7, 13])
    p.add_argument("--dims", type=int, nargs="+", default=[32, 64])
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--pool-n", type=int, nargs="+", default=[256, 1024, 2048, 4096])
    p.add_argument("--skip-na", action="store_true")
    p.add_argument("--skip-pool", action="store_true")
    p.add_argument("--no-triton", action="store_true", help="CPU smoke: skip the (interpreted) Triton kernels")
    p.add_argument("--json", type=Path, help="write all rows as JSON")
    p.add_argument("--markdown", type=Path, help="write the tables as Markdown")
    args = p.parse_args(argv)
    args.interpret = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0") and not args.no_triton

    if torch.cuda.is_available() and not args.cpu_smoke:
        device = "cuda"
        os.environ.setdefault("GAZEKIT_TF32", "1")  # fp32 dots only; bf16 runs are unaffected
        label = torch.cuda.get_device_name(0)
    elif args.cpu_smoke:
        device, label = "cpu", "CPU smoke run (not a benchmark)"
        args.maps, args.kernels, args.dims, args.batch, args.heads = [8], [3], [16], 1, 2
        args.pool_n = [64]
    else:
        print(
            "benchmarks/attention.py needs a CUDA GPU (Triton kernels, do_bench and CUDA memory stats). "
            "No CUDA device is visible here; run it on a GPU machine, or pass --cpu-smoke to check the code paths.",
            file=sys.stderr,
        )
        return 2
    rows: list[dict] = []
    if not args.skip_na:
        rows += bench_na(args, device)
    if not args.skip_pool:
        rows += bench_pool(args, device)
    md = _markdown(rows, label)
    print(md)
    if args.json:
        args.json.write_text(json.dumps({"device": label, "rows": rows}, indent=1))
    if args.markdown:
        args.markdown.write_text(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
