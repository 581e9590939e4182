"""The application layer: the ``hpu`` command line, the demo, config files and report assembly.

Everything a user runs lives here; the library layers below it (``hpu_model``,
``hpu_rtl``, ``kernels``, ``cosim``, ``power``, ``workloads``, ``explore``)
never import it.  Each subcommand is one module in :mod:`hpu.commands`.
"""
