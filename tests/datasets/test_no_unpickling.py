"""No dataset reader may unpickle: the modules never call pickle, torch.load, or np.load with pickles allowed."""

from __future__ import annotations

import re
from pathlib import Path

import gazekit.datasets as pkg

FORBIDDEN = re.compile(
    r"\bpickle\.|\bimport pickle\b|torch\.load\(|allow_pickle\s*=\s*True|\bdill\b|\bjoblib\b|yaml\.load\("
)


def test_dataset_modules_do_not_unpickle():
    root = Path(pkg.__file__).parent
    files = [p for p in root.glob("*.py") if p.name not in ("base.py", "scanpath_csv.py")]
    assert len(files) >= 13
    bad = [(p.name, m.group(0)) for p in files for m in FORBIDDEN.finditer(p.read_text())]
    assert not bad, bad
