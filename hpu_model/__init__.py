"""The HPU numerics spec, its bit-accurate golden model and the cycle model.

Public modules: :mod:`~hpu_model.spec` (constants and the contract),
:mod:`~hpu_model.golden` (bit-accurate model), :mod:`~hpu_model.quant`,
:mod:`~hpu_model.reference` (float reference and metrics),
:mod:`~hpu_model.workload` (reproducible inputs).
"""

__version__ = "0.1.0"
