"""Real workloads for the HPU: a real transformer's attention through the HPU numerics.

``minilm``    all-MiniLM-L6-v2, offline from the ``models`` extra, one unpadded sentence at a time
``corpus``    the shipped text corpus (300 sentences) and text files as corpora
``capture``   every head's Q, K, V as a workload file (``hpu capture``)
``fidelity``  accuracy and energy per permeability (``hpu fidelity``); ``report`` writes it

See ``docs/workloads.md``.
"""

__all__ = ["capture", "corpus", "fidelity", "minilm", "report"]
