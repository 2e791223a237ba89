"""One exception family for bad input: every error names where it came from and what was expected."""

from __future__ import annotations

from pathlib import Path


class GazekitError(Exception):
    """Base class of every error gazekit raises on purpose (bad input, missing weights, bad config)."""


class DataFormatError(GazekitError, ValueError):
    """A data file (or in-memory record) does not match its format.

    Args:
        message: what is wrong and what was expected.
        path: the file, if any.
        line: 1-based line (CSV/TSV/ASC) or 0-based record index (JSON), if known.
        field: the column or key at fault, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        record: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.record = record
        self.field = field
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class FrameMissingError(DataFormatError):
    """Scanpaths carry no coordinate frame (width/height) and the user gave none (``--human-frame WxH``)."""


class DataMissingError(GazekitError, FileNotFoundError):
    """A recipe's data location is not set or does not exist (the message names the option, the environment
    variable and the download or manual step)."""


class ConfigError(GazekitError, ValueError):
    """A model, data or CLI option has an invalid value."""


class UnknownModelError(ConfigError, KeyError):
    """A name that is not in the model registry."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class WeightsNotFoundError(GazekitError, FileNotFoundError):
    """Pretrained weights could not be found in any of the searched locations."""


class DownloadError(GazekitError, OSError):
    """A download failed, or a downloaded file did not match its checksum."""


class BadWeightsError(ConfigError):
    """A weight file exists but cannot be used: truncated or corrupt, pickled Python objects, tensors missing or
    of the wrong shape (another model size). The message names the file and what is wrong."""
