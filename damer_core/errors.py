"""Errors that reach users as one clear line instead of a traceback.

Every error raised for a user's mistake or a bad input derives from :class:`DamerError`; the command-line
entry point prints its message and exits non-zero. Anything else is a bug and keeps its traceback.
"""


class DamerError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class ConfigError(DamerError, ValueError):
    """A configuration file or value is malformed, unknown or out of range."""


class AudioError(DamerError, ValueError):
    """Audio that cannot be read or processed (corrupt, empty, wrong rate, non-finite, wrong shape)."""


class BundleError(DamerError, ValueError):
    """A model bundle that is corrupt, truncated, unsafe or made for another feature spec."""


class DeviceError(DamerError, RuntimeError):
    """A sound card, compute device or network endpoint that is missing or unusable."""
