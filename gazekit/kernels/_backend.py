"""Backend selection shared by every attention op.

``GAZEKIT_ATTN_BACKEND`` picks the implementation:

* unset / ``auto``: Triton for CUDA tensors (when ``triton`` imports), the plain-PyTorch reference elsewhere;
* ``triton``: always Triton; on a CPU tensor this needs ``TRITON_INTERPRET=1`` set before triton is imported
  (the interpreter; slow, for tests);
* ``sdpa``: the op composed from ``torch.nn.functional.scaled_dot_product_attention`` where the op has such a
  form (neighbourhood attention as masked dense SDPA + bias); ops without one fall back to the reference;
* ``naive``: the plain-PyTorch reference that defines the op.
"""

from __future__ import annotations

import functools
import os

import torch

from gazekit.errors import ConfigError

__all__ = ["BACKENDS", "interpreting", "select_backend", "triton_available"]

BACKENDS = ("auto", "triton", "sdpa", "naive")


def interpreting() -> bool:
    """True when Triton runs in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0", "false", "False")


@functools.lru_cache(maxsize=1)
def triton_available() -> bool:
    """True when ``import triton`` works (the ``kernels`` extra is installed)."""
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        return False
    return True


def requested_backend() -> str:
    """The backend named by ``GAZEKIT_ATTN_BACKEND`` (``auto`` when unset)."""
    name = os.environ.get("GAZEKIT_ATTN_BACKEND", "auto").strip().lower() or "auto"
    if name not in BACKENDS:
        raise ConfigError(f"GAZEKIT_ATTN_BACKEND={name!r}: expected one of {', '.join(BACKENDS)}")
    return name


def select_backend(*tensors: torch.Tensor, has_sdpa: bool = False, triton_dtypes: tuple = ()) -> str:
    """Resolve the backend for one call: ``"triton"``, ``"sdpa"`` or ``"naive"``.

    Args:
        tensors: the op's inputs (their device and dtype decide ``auto``).
        has_sdpa: whether the op has an SDPA composition (else ``sdpa`` means ``naive``).
        triton_dtypes: dtypes the Triton kernels accept; others (e.g. float64) use the reference under ``auto``
            and raise under an explicit ``triton``.

    Raises:
        ConfigError: ``triton`` was requested but cannot run here.
    """
    name = requested_backend()
    dtype_ok = all(t.dtype in triton_dtypes for t in tensors) if triton_dtypes else True
    on_cuda = all(t.is_cuda for t in tensors)
    if name == "auto":
        if on_cuda and dtype_ok and triton_available():
            return "triton"
        return "naive"
    if name == "triton":
        if not triton_available():
            raise ConfigError(
                "GAZEKIT_ATTN_BACKEND=triton but triton is not installed (pip install 'gazekit[kernels]')"
            )
        if not on_cuda and not interpreting():
            raise ConfigError(
                "GAZEKIT_ATTN_BACKEND=triton on CPU tensors needs TRITON_INTERPRET=1 set before triton is imported"
            )
        if not dtype_ok:
            raise ConfigError(
                f"the Triton kernel takes {', '.join(str(d) for d in triton_dtypes)}; got "
                f"{', '.join(str(t.dtype) for t in tensors)}"
            )
        return "triton"
    if name == "sdpa":
        return "sdpa" if has_sdpa else "naive"
    return "naive"
