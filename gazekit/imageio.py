"""Reading and writing images: one place that turns files and uploaded bytes into ``[H, W, 3]`` uint8 RGB."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from gazekit.errors import DataFormatError

__all__ = ["MAX_PIXELS", "decode_image", "read_image", "write_image"]

#: Larger images are refused before decoding (decompression bombs); 100 megapixels.
MAX_PIXELS = 100_000_000


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode PNG/JPEG/WebP/BMP bytes to ``[H, W, 3]`` uint8 RGB, honouring the EXIF orientation.

    Raises:
        DataFormatError: empty, corrupt or not an image, or larger than ``max_pixels``.
    """
    if not data:
        raise DataFormatError("empty file (0 bytes), expected an image", path=name)
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise DataFormatError(f"image is {w}x{h} = {w * h} px, above the limit of {max_pixels} px", path=name)
            im = ImageOps.exif_transpose(im)
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except DataFormatError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataFormatError(f"not a readable image ({type(e).__name__}: {e})", path=name) from None
    except Image.DecompressionBombError as e:  # pragma: no cover - Pillow's own guard
        raise DataFormatError(f"image too large ({e})", path=name) from None
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataFormatError(f"image has no pixels (shape {arr.shape})", path=name)
    return np.ascontiguousarray(arr)


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file to ``[H, W, 3]`` uint8 RGB (errors name the file)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataFormatError("image file not found", path=p) from None
    except OSError as e:
        raise DataFormatError(f"cannot read image ({e.strerror})", path=p) from None
    return decode_image(data, str(p), max_pixels)


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write ``[H, W, 3]`` uint8 RGB to a PNG/JPEG file (format from the suffix)."""

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise DataFormatError(f"expected [H, W, 3] uint8 RGB, got {img.shape} {img.dtype}", path=p)
    if not cv2.imwrite(str(p), img[:, :, ::-1]):
        raise DataFormatError("OpenCV could not write this image (unknown suffix?)", path=p)


def encode_png(image: np.ndarray) -> bytes:
    """Encode ``[H, W, 3]`` uint8 RGB as PNG bytes."""

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:  # pragma: no cover
        raise DataFormatError("PNG encoding failed")
    return buf.tobytes()
