"""VGG16: torchvision key layout, named taps, pooling switch, preprocessing."""

from __future__ import annotations

import pytest
import torch

from gazekit.backbones.vgg import LAYER_NAMES, VGG16, checkpoint_filter_fn, preprocess
from gazekit.errors import ConfigError

TORCHVISION_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]


def test_torchvision_layout_and_size():
    with torch.device("meta"):
        m = VGG16(num_classes=1000)
    keys = set(m.state_dict())
    want = {f"features.{i}.{p}" for i in TORCHVISION_CONV_INDICES for p in ("weight", "bias")}
    want |= {f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")}
    assert keys == want
    assert sum(p.numel() for p in m.parameters()) == 138_357_544  # torchvision vgg16
    assert LAYER_NAMES[29] == "relu5_3" and LAYER_NAMES[30] == "pool5" and LAYER_NAMES[28] == "conv5_3"


def test_taps_and_pooling():
    m = VGG16().eval()
    x = torch.randn(1, 3, 64, 48)
    out = m.forward_features(x, ["relu3_3", "pool5", "relu5_3"])
    assert list(out) == ["relu3_3", "pool5", "relu5_3"]
    assert out["relu3_3"].shape == (1, 256, 16, 12)
    assert out["relu5_3"].shape == (1, 512, 4, 3)
    assert out["pool5"].shape == (1, 512, 2, 1)
    torch.testing.assert_close(out["pool5"], torch.nn.functional.max_pool2d(out["relu5_3"], 2))
    torch.testing.assert_close(m(x), out["pool5"])
    avg = VGG16(pool="avg")
    avg.load_state_dict(m.state_dict())
    o2 = avg.forward_features(x, ["relu5_3", "pool5"])
    torch.testing.assert_close(o2["pool5"], torch.nn.functional.avg_pool2d(o2["relu5_3"], 2))
    with pytest.raises(ConfigError, match="unknown VGG16 layer"):
        m.forward_features(x, ["fc7"])


def test_filter_and_preprocess():
    full = VGG16(num_classes=10)
    sd = {"module." + k: v for k, v in full.state_dict().items()}
    feat = VGG16()
    feat.load_state_dict(checkpoint_filter_fn(sd, feat))
    img = torch.rand(1, 3, 4, 4)
    t = preprocess(img)
    torch.testing.assert_close(t[0, 0], (img[0, 0] - 0.485) / 0.229)
    c = preprocess(img, "caffe")
    torch.testing.assert_close(c[0, 0], img[0, 2] * 255 - 103.939)
