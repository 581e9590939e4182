"""Bit packing for toggle counting: rows of 0/1 codes as machine words, and their popcounts."""

from __future__ import annotations

import numpy as np

__all__ = ["pack_rows", "popcount_rows"]


def pack_rows(codes: np.ndarray) -> np.ndarray:
    """0/1 code rows as words: uint8/16/32/64 ``[n]`` for widths up to 64, uint64 ``[n, k]`` beyond."""
    n, width = codes.shape
    if width == 1:
        return codes[:, 0]
    nbytes = 1 << max(0, (width - 1).bit_length() - 3) if width <= 64 else -(-width // 64) * 8
    if nbytes * 8 != width:    # left-pad with zero columns, so packbits runs over one flat buffer
        padded = np.zeros((n, nbytes * 8), np.uint8)
        padded[:, nbytes * 8 - width:] = codes
        codes = padded
    rows = np.packbits(codes.reshape(-1)).reshape(n, nbytes)
    return rows.view({1: np.uint8, 2: np.uint16, 4: np.uint32}.get(nbytes, np.uint64)).reshape(n, -1).squeeze(1) \
        if nbytes <= 8 else rows.view(np.uint64)


def popcount_rows(words: np.ndarray) -> np.ndarray:
    """Set bits per row of :func:`pack_rows` output, as int64."""
    counts = np.bitwise_count(words)
    if counts.ndim == 1:
        return counts.astype(np.int64)
    total = counts[:, 0].astype(np.int64)
    for j in range(1, counts.shape[1]):
        total += counts[:, j]
    return total
