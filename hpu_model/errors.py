"""Error types shared by the whole toolkit.

Every error a user can cause derives from :class:`HPUError`; the ``hpu``
command line prints its message as one line and exits non-zero.
"""

__all__ = ["HPUError", "SpecError", "ConfigError"]


class HPUError(Exception):
    """A failure the user can act on; the message says what and what is allowed."""


class SpecError(HPUError, ValueError):
    """An input that the numerics contract does not accept."""


class ConfigError(HPUError, ValueError):
    """A design parameter or run configuration outside what the HPU (RTL, cycle model) supports."""
