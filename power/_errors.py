"""Errors of the power analyzer: each names the value and what is allowed."""

from hpu_model.errors import HPUError
from hpu_model.manifest import ManifestError

__all__ = ["VCDError", "ManifestError", "EnergyTableError"]


class VCDError(HPUError):
    """A waveform file that cannot be read: truncated, malformed or of an unknown format."""


class EnergyTableError(HPUError):
    """An energy table (TOML) with a missing class, a missing action or a negative energy."""
