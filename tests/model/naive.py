"""A slow, obviously-correct transcription of contract v1 in plain Python ints.

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
        m = max(scores[j] for j in kept)
        es = {}
        for j in kept:
            t = ((m - scores[j]) * c) >> r
            es[j] = 0 if t >= 4096 else spec.LUT[t % 256] >> (t // 256)
        z = sum(es.values())
        a = [sum(es[j] * v[j][x] for j in kept) for x in range(d)]
        rr = 2**40 // z
        out.append([min(max((ax * rr + 2**31) >> 32, -32768), 32767) for ax in a])
    return out
