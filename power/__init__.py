"""Power and dark-silicon analysis of HPU waveforms.

``analyze(vcd, manifest)`` streams a waveform once and returns an
:class:`~power.activity.Activity` (toggles, active/gated cycles, silent
ratio); :mod:`power.energy` turns activity into energy with an
Accelergy-style action table; :mod:`power.report` writes the report folder.
"""

from ._errors import EnergyTableError, ManifestError, VCDError
from .activity import Activity, analyze, find_scope, load_manifest

__all__ = ["analyze", "Activity", "find_scope", "load_manifest", "VCDError", "ManifestError", "EnergyTableError"]
