"""Errors of the power analyzer: each names the value and what is allowed."""

from hpu_model.errors import HPUError

__all__ = ["VCDError", "ManifestError", "EnergyTableError"]


class VCDError(HPUError):
    """A waveform file that cannot be read: truncated, malformed or of an unknown format."""


class ManifestError(HPUError):
    """A power manifest that does not fit the schema or names a signal the waveform lacks."""


class EnergyTableError(HPUError):
    """An energy table (TOML) with a missing class, a missing action or a negative energy."""
