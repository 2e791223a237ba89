"""The viewer's limits on what it accepts (environment overrides); a leaf, so ``gazekit app`` starts fast."""

from __future__ import annotations

import os

__all__ = ["IMAGE_TYPES", "MAX_IMAGE_PIXELS", "MAX_UPLOAD_BYTES", "MODEL_MAX_SIDE"]

#: Uploads larger than this many bytes are refused before decoding (override: ``GAZEKIT_APP_MAX_UPLOAD_MB``).
MAX_UPLOAD_BYTES = int(float(os.environ.get("GAZEKIT_APP_MAX_UPLOAD_MB", "50")) * 2**20)
#: Images with more pixels than this are refused (override: ``GAZEKIT_APP_MAX_PIXELS``).
MAX_IMAGE_PIXELS = int(float(os.environ.get("GAZEKIT_APP_MAX_PIXELS", "50e6")))
#: The model sees the image downscaled so that its longer side is at most this (override: ``GAZEKIT_APP_MAX_SIDE``).
MODEL_MAX_SIDE = int(os.environ.get("GAZEKIT_APP_MAX_SIDE", "1024"))
#: File types the uploader advertises (the content decides, not the name).
IMAGE_TYPES = ("png", "jpg", "jpeg", "webp")
