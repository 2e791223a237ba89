"""Where a recipe finds the user's data: the command line first, then one environment variable per dataset.

No recipe names a folder outside the user's own data. A data option left empty (``null`` in the YAML) is
filled from the dataset's environment variable, which names either the file itself or the folder that holds
it in its published layout:

=================  =========================  ===========================================================
dataset            environment variable        layout of the folder it names
=================  =========================  ===========================================================
COCO-Search18      ``GAZEKIT_COCO_SEARCH18``   ``coco_search18_fixations_TP_validation_split1.json`` (or the
                                               file you name with ``--data.fixations``) + ``detections/``
Amazon covers      ``GAZEKIT_AMAZON_COVERS``   ``Amazon.json``
=================  =========================  ===========================================================

(GazeFollow recipes take ``--data.root``/``--data.train_file``/``--data.test_file``.) A missing location raises :class:`~gazekit.errors.DataMissingError` naming the option, the variable and the
download or manual step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gazekit.errors import DataMissingError

__all__ = ["DATA_LOCATIONS", "DataLocation", "resolve_data_path"]


@dataclass(frozen=True)
class DataLocation:
    """How one dataset is found: its environment variable, its published file names, how to get it."""

    title: str
    env: str
    files: dict[str, str]  # role (fixations, detections, ...) -> name inside the folder the variable names
    get: str  # the download or manual step, for messages


DATA_LOCATIONS: dict[str, DataLocation] = {
    "coco_search18": DataLocation(
        "COCO-Search18",
        "GAZEKIT_COCO_SEARCH18",
        {"fixations": "coco_search18_fixations_TP_validation_split1.json", "detections": "detections"},
        "fixation JSONs from https://sites.google.com/view/cocosearch/ (manual; `gazekit download coco_search18` "
        "explains it); the detections/<task>.csv files from the repository ssaket/visual-search-actr "
        "(data/coco_search_18/detections)",
    ),
    "amazon": DataLocation(
        "Amazon book covers (STI)",
        "GAZEKIT_AMAZON_COVERS",
        {"fixations": "Amazon.json"},
        "`gazekit download amazon_covers --root DIR` (then the folder is DIR/amazon_covers)",
    ),
}


def resolve_data_path(dataset: str, role: str, value: str | os.PathLike | None, *, option: str) -> Path:
    """The path of ``role`` (e.g. ``fixations``) of ``dataset``: ``value`` when given, else from the variable.

    Args:
        dataset: a key of :data:`DATA_LOCATIONS`.
        role: a key of that dataset's ``files``.
        value: what the recipe or command line gave (None/empty: use the environment variable).
        option: the command-line option that sets it, e.g. ``--data.fixations`` (named in errors).

    Raises:
        DataMissingError: nothing given and the variable unset, or the path does not exist.
    """
    loc = DATA_LOCATIONS[dataset]
    name = loc.files[role]
    if value not in (None, ""):
        p = Path(value).expanduser()
        if not p.exists():
            raise DataMissingError(
                f"{option} {value}: no such {'folder' if role in ('detections', 'root') else 'file'} "
                f"({loc.title}; get it: {loc.get})"
            )
        return p
    env = os.environ.get(loc.env, "").strip()
    if not env:
        raise DataMissingError(
            f"no {loc.title} {role} given: pass {option} PATH, or set {loc.env} to the folder holding {name}; "
            f"get the data: {loc.get}"
        )
    base = Path(env).expanduser()
    folder = base.parent if base.is_file() else base  # the variable may name the fixation file itself
    p = base if (base.is_file() and role == "fixations") else folder / name
    if not p.exists():
        raise DataMissingError(
            f"{loc.env}={env} has no {name} ({loc.title} {role}); pass {option} PATH or fix the variable; "
            f"get the data: {loc.get}"
        )
    return p
