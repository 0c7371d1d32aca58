"""Errors raised by the training package for problems a user can fix."""

from damer_core.errors import DamerError


class DatasetError(DamerError, ValueError):
    """A dataset on disk that cannot be read as its documented format: a missing or ambiguous file, a
    malformed row, an out-of-range label or missing audio. The message names the file (and the row or
    index) at fault."""


WHERE_DATA_IS = "dataset paths of a recipe are taken from the data root: --data-root DIR, else $DAMER_DATA, else ./data"
"""Said with every "not found" error of a dataset folder."""
