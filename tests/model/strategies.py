"""Hypothesis strategies shared by the golden-model property tests."""

import numpy as np
from hypothesis import strategies as st


@st.composite
def heads(draw, n_max: int = 12, d_max: int = 6):
    """One head (q, k, v, P16, causal, C, R): small shapes, and values often at the int8 extremes."""
    n_k = draw(st.integers(1, n_max))
    causal = draw(st.booleans())
    n_q = draw(st.integers(1, n_k if causal else n_max))
    d = draw(st.integers(1, d_max))
    vals = st.integers(-127, 127) if draw(st.booleans()) else st.sampled_from([-127, -1, 0, 1, 127])
    mat = lambda n: np.array(draw(st.lists(st.lists(vals, min_size=d, max_size=d), min_size=n, max_size=n)), np.int8)
    return (mat(n_q), mat(n_k), mat(n_k), draw(st.integers(1, 65536)), causal,
            draw(st.integers(1, 2**15 - 1)), draw(st.integers(0, 24)))
