"""Slow, obviously-correct transcriptions of contracts v1 and v2 in plain Python ints.

Independent of the vectorized golden model: explicit loops, Python's sorted()
for the gate, and the LUT formula applied step by step.  Used as the oracle in
property-based tests.
"""

from hpu_model import spec


def naive_head(q, k, v, p16, causal, c, r):
    """O as a list of int lists, for one head given as nested int lists."""
    n_q, n_k, d = len(q), len(k), len(q[0])
    out = []
    for i in range(n_q):
        valid = i + (n_k - n_q) + 1 if causal else n_k
        kk = min(max(-(-valid * p16 // 65536), 1), valid)
        scores = [sum(q[i][x] * k[j][x] for x in range(d)) for j in range(valid)]
        kept = sorted(range(valid), key=lambda j: (-scores[j], j))[:kk]
        out.append(_softmax_pv(scores, v, kept, c, r))
    return out


def _softmax_pv(scores, v, kept, c, r):
    """One output row over the kept keys: max, exp2 by LUT, sums, reciprocal, rounding."""
    m = max(scores[j] for j in kept)
    es = {}
    for j in kept:
        t = ((m - scores[j]) * c) >> r
        es[j] = 0 if t >= 4096 else spec.LUT[t % 256] >> (t // 256)
    z = sum(es.values())
    a = [sum(es[j] * v[j][x] for j in kept) for x in range(len(v[0]))]
    rr = 2**40 // z
    return [min(max((ax * rr + 2**31) >> 32, -32768), 32767) for ax in a]


def _mean(rows, size):
    """Rounded mean over a group (missing rows of a partial group add 0): floor((sum + size/2) / size)."""
    return [(sum(col) + size // 2) // size for col in zip(*rows)] if size > 1 else list(rows[0])


def naive_tile_keep(q, k, p16, causal, tile, block):
    """Contract v2's keep mask as a list of bool lists, transcribed rule by rule."""
    n_q, n_k, d = len(q), len(k), len(q[0])
    n_tiles = -(-n_k // tile)
    ks = [_mean(k[t * tile:(t + 1) * tile], tile) for t in range(n_tiles)]
    keep = [[False] * n_k for _ in range(n_q)]
    for b0 in range(0, n_q, block):
        rows = list(range(b0, min(b0 + block, n_q)))
        qs = _mean(q[b0:b0 + block], block)
        valid = {i: i + (n_k - n_q) + 1 if causal else n_k for i in rows}
        visible = [t for t in range(n_tiles) if any(t * tile < valid[i] for i in rows)]
        # The tile holding each row's last visible key (its diagonal), when causal.
        forced = sorted({(valid[i] - 1) // tile for i in rows}) if causal else []
        kb = min(max(-(-len(visible) * p16 // 65536), 1), len(visible))
        score = {t: sum(qs[x] * ks[t][x] for x in range(d)) for t in visible}
        others = sorted((t for t in visible if t not in forced), key=lambda t: (-score[t], t))
        kept = set(forced) | set(others[:max(0, kb - len(forced))])
        for i in rows:
            for j in range(valid[i]):
                keep[i][j] = j // tile in kept
    return keep


def naive_tile_head(q, k, v, p16, causal, c, r, tile, block):
    """O of contract v2 for one head: the tile gate's mask, then v1's softmax and PV."""
    keep = naive_tile_keep(q, k, p16, causal, tile, block)
    out = []
    for i, row in enumerate(keep):
        kept = [j for j, on in enumerate(row) if on]
        scores = {j: sum(a * b for a, b in zip(q[i], k[j])) for j in kept}
        out.append(_softmax_pv(scores, v, kept, c, r))
    return out
