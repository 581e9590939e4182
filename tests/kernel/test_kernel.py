"""Triton kernel against hand-worked values and the golden model (interpreter on CPU, small shapes)."""

import warnings

import numpy as np
import pytest
import torch

import kernels
from hpu_model import golden, spec
from hpu_model.workload import random_workload
from kernels import _triton_attention as ka
from kernels import regression

HALF = 1 << 15
#: Small tiles: several row blocks and key tiles, full and masked, at n <= 64.
SMALL = {"select": dict(BM=16, BN=16), "output": dict(BM=16, BN=16)}

pytestmark = pytest.mark.filterwarnings("ignore:kernels.attention. no CUDA GPU:RuntimeWarning")


def run(q, k, v, tiles=None, **kw):
    out = kernels.attention(*(torch.from_numpy(np.ascontiguousarray(x)) for x in (q, k, v)), _tiles=tiles, **kw)
    assert out.dtype == torch.int16 and out.device.type == "cpu"
    return out.numpy()


def check(q, k, v, tiles=None, **kw):
    """Kernel output identical to the golden model's, element for element."""
    out = run(q, k, v, tiles, **kw)
    ref = golden.attention(q, k, v, **kw)
    assert out.shape == ref.shape
    bad = np.argwhere(out != ref)
    assert not bad.size, f"{len(bad)} elements differ, first at {tuple(bad[0])}: {out[tuple(bad[0])]} vs golden"


def test_hand_worked_3x3():
    # docs/numerics.md: C=64, R=0, p=0.5 (k=2); the values were worked on paper.
    q = np.array([[1, 0], [0, 1], [1, 1]], np.int8)
    k = np.array([[2, 0], [1, 1], [0, 3]], np.int8)
    v = np.array([[4, 0], [0, 8], [2, 2]], np.int8)
    assert run(q, k, v, permeability_q16=HALF, c=64, r=0).tolist() == [[556, 935], [300, 1148], [746, 278]]


@pytest.mark.parametrize("n_q, n_k, d, causal, p, tiles", [
    (64, 64, 16, False, 0.5, SMALL),
    (64, 64, 32, True, 0.3, SMALL),
    (40, 64, 16, True, 1 / 16, SMALL),
    (50, 33, 32, False, 1.0, None),
    (17, 50, 32, False, 0.7, SMALL),
    (33, 33, 16, True, 1.0, SMALL),
    (5, 7, 20, False, 0.5, None),          # D padded to 32 inside
])
def test_matches_golden(n_q, n_k, d, causal, p, tiles):
    w = random_workload(heads=2, n_q=n_q, n_k=n_k, head_dim=d, causal=causal, seed=n_q * 97 + n_k)
    check(w.q, w.k, w.v, tiles, permeability_q16=spec.permeability_q16(p), causal=causal, c=w.c, r=w.r)


def test_exp2_words_hold_e_and_its_digits():
    # every t the kernels can index: e by the spec's formula, computed here from spec.LUT directly
    words = ka._table("words", torch.device("cpu")).tolist()
    assert len(words) == spec.T_CUTOFF
    for t, w in enumerate(words):
        e = spec.LUT[t % 256] >> (t // 256)
        u = w % (1 << 32)                                   # the word's bits, unsigned
        lo, nhi = (u & 255) - 256 * ((u >> 7) & 1), ((u >> 8) & 255) - 256 * ((u >> 15) & 1)
        assert u >> 16 == e and lo - 256 * nhi == e and -128 <= nhi <= 0, (t, w)
    assert words[spec.T_CUTOFF - 1] >> 16 == 0 and words[0] >> 16 == -(1 << 15)   # e = 0; e = 2**15 (bit 31)


@pytest.mark.parametrize("n_k, d", [(1, 32), (70, 32), (300, 64)])
def test_v_transpose_pads_with_zeros_and_stores_keys_in_operand_order(n_k, d):
    g = torch.Generator().manual_seed(n_k)
    v = torch.randint(-127, 128, (3, n_k, d), generator=g, dtype=torch.int8)
    q = torch.zeros((3, 1, d), dtype=torch.int8)
    plan = ka._Plan(q, v, v, permeability_q16=HALF, c=64, r=0)
    vs = plan.vt.shape[-1]
    assert vs % 256 == 0 and vs >= n_k
    ref = torch.zeros((3, d, vs), dtype=torch.int8)
    for key in range(n_k):   # key 16 g + 8 b + 2 c + e is stored at place 16 g + 4 c + 2 b + e
        b, c, e = key >> 3 & 1, key >> 1 & 3, key & 1
        ref[:, :, (key & ~15) + 4 * c + 2 * b + e] = v[:, key, :]
    assert torch.equal(plan.vt, ref)


def test_ties_keep_lowest_indices_across_tiles():
    # Every score of a row is equal: the kept keys are the first k, spread over several key tiles,
    # so the output is the mean of v over exactly those keys.
    rng = np.random.default_rng(1)
    q = rng.integers(-127, 128, (1, 48, 16)).astype(np.int8)
    k = np.broadcast_to(rng.integers(-127, 128, (1, 1, 16)), (1, 64, 16)).astype(np.int8)
    v = rng.integers(-127, 128, (1, 64, 16)).astype(np.int8)
    p16 = 27000                                    # k = ceil(64 * 27000 / 65536) = 27
    out = run(q, k, v, SMALL, permeability_q16=p16, c=100, r=4)
    # e = 2**15 for every kept key: O = round(256 * mean(v[:27])) computed here in float64
    want = np.floor(256 * v[0, :27].astype(np.float64).mean(0) + 0.5)
    assert np.array_equal(out[0], np.broadcast_to(want, (48, 16)))
    check(q, k, v, SMALL, permeability_q16=p16, c=100, r=4, causal=True)


@pytest.mark.parametrize("values", [(-1, 0, 1), (-127, 127), (127,), (-127, -64, 0, 64, 127)])
def test_few_levels_and_extremes(values):
    rng = np.random.default_rng(len(values))
    q, k, v = (rng.choice(values, (2, 48, 32)).astype(np.int8) for _ in range(3))
    for p16, causal, tiles in ((1, False, None), (4096, True, SMALL), (30000, False, None), (spec.P16_ONE, True, None)):
        check(q, k, v, tiles, permeability_q16=p16, causal=causal, c=5000, r=20)


@pytest.mark.parametrize("c, r", [(1, 0), (spec.C_LIMIT - 1, spec.R_MAX), (1, spec.R_MAX), (spec.C_LIMIT - 1, 0)])
def test_multiplier_extremes(c, r):
    # (C_LIMIT-1, 0): only keys with S = m have e > 0, the threshold search stops at the cutoff;
    # (1, R_MAX): every kept key has e close to 2**15.
    w = random_workload(heads=1, n_k=40, head_dim=32, seed=c + r)
    for p in (1 / 16, 0.5, 1.0):
        check(w.q, w.k, w.v, SMALL, permeability_q16=spec.permeability_q16(p), c=c, r=r)


def test_k1_and_n1():
    w = random_workload(heads=2, n_k=24, head_dim=16, seed=7)
    check(w.q, w.k, w.v, permeability_q16=1, c=w.c, r=w.r)                # k = 1 on every row
    check(w.q, w.k, w.v, permeability_q16=1, causal=True, c=w.c, r=w.r)
    one = random_workload(heads=3, n_k=1, head_dim=16, seed=8)             # n_q = n_k = 1
    check(one.q, one.k, one.v, permeability_q16=HALF, causal=True, c=one.c, r=one.r)
    assert np.array_equal(run(one.q, one.k, one.v, permeability_q16=HALF, c=one.c, r=one.r),
                          one.v.astype(np.int16) * 256)                    # one key: O = 256 * v


def test_batch_broadcasting():
    rng = np.random.default_rng(3)
    q = rng.integers(-127, 128, (2, 3, 20, 16)).astype(np.int8)
    k = rng.integers(-127, 128, (3, 30, 16)).astype(np.int8)               # broadcast over the batch
    v = rng.integers(-127, 128, (1, 1, 30, 16)).astype(np.int8)
    out = run(q, k, v, permeability_q16=HALF, c=300, r=12)
    assert out.shape == (2, 3, 20, 16)
    assert np.array_equal(out, golden.attention(q, k, v, permeability_q16=HALF, c=300, r=12))
    one = run(q[1, 2], k[2], v[0, 0], permeability_q16=HALF, c=300, r=12)  # a head alone gives the same
    assert np.array_equal(out[1, 2], one)


def test_interpreter_notice_once(monkeypatch):
    if not kernels.INTERPRETED:
        pytest.skip("a CUDA GPU is present: the kernels are compiled, not interpreted")
    monkeypatch.setattr(ka, "_said_interpreted", False)
    w = random_workload(heads=1, n_k=4, head_dim=16, seed=0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(2):
            run(w.q, w.k, w.v, permeability_q16=HALF, c=w.c, r=w.r)
    assert [str(x.message) for x in seen if "interpreter" in str(x.message)] == [
        "kernels.attention: no CUDA GPU, running through Triton's CPU interpreter (TRITON_INTERPRET=1): exact but slow"]


I8 = torch.zeros((4, 16), dtype=torch.int8)


@pytest.mark.parametrize("args, kw, match", [
    ((I8.to(torch.int16), I8, I8), {}, "q must be an int8 tensor, got dtype torch.int16"),
    ((I8.numpy(), I8, I8), {}, "q must be a torch.Tensor of dtype int8, got ndarray"),
    ((I8, torch.full((4, 16), -128, dtype=torch.int8), I8), {}, "k contains -128"),
    ((I8[0], I8, I8), {}, r"q must have shape \[..., n, D\]"),
    ((I8, I8[:, :8], I8), {}, "head dims differ"),
    ((I8, I8, I8[:3]), {}, "k and v must have the same number of keys, got 4 and 3"),
    ((torch.zeros((4, 0), dtype=torch.int8),) * 3, {}, r"head dim D=0 out of range: allowed 1..256"),
    ((I8, torch.zeros((spec.SEQ_MAX + 1, 16), dtype=torch.int8), torch.zeros((spec.SEQ_MAX + 1, 16),
                                                                             dtype=torch.int8)), {},
     "n_k=32769 out of range"),
    ((torch.zeros((8, 16), dtype=torch.int8), I8, I8), {"causal": True}, "causal attention needs n_q <= n_k"),
    ((torch.zeros((2, 4, 16), dtype=torch.int8), torch.zeros((3, 4, 16), dtype=torch.int8), I8), {},
     "batch dims do not broadcast"),
    ((I8, I8, I8), {"permeability_q16": 0}, r"permeability_q16 must be an integer in \[1, 65536\], got 0"),
    ((I8, I8, I8), {"c": 0}, r"C must be an integer in \[1, 32767\], got 0"),
    ((I8, I8, I8), {"r": 25}, r"R must be an integer in \[0, 24\], got 25"),
])
def test_bad_inputs_raise_spec_errors(args, kw, match):
    kw = {"permeability_q16": HALF, "c": 100, "r": 8} | kw
    with pytest.raises(spec.SpecError, match=match):
        kernels.attention(*args, **kw)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none: the GPU proof is "
                                                          "kernels.regression, see docs/kernel.md)")
def test_cuda_matches_golden_and_stays_on_device():
    w = random_workload(heads=4, n_q=100, n_k=300, head_dim=64, causal=True, seed=5)
    q, k, v = (torch.from_numpy(x).cuda() for x in (w.q, w.k, w.v))
    out = kernels.attention(q, k, v, permeability_q16=HALF, causal=True, c=w.c, r=w.r)
    assert out.device.type == "cuda"
    ref = golden.attention(w.q, w.k, w.v, permeability_q16=HALF, causal=True, c=w.c, r=w.r)
    assert np.array_equal(out.cpu().numpy(), ref)


@pytest.mark.slow
def test_random_cases_match_golden():
    """Seeded sweep over D (1..256, padded), shapes, p, (C, R), data kinds and tile shapes."""
    rng = np.random.default_rng(2024)
    for _ in range(60):
        d = int(rng.choice([1, 5, 16, 32, 64, 100, 128, 256]))
        n_k = int(rng.integers(1, 100))
        causal = bool(rng.integers(2))
        n_q = int(rng.integers(1, n_k + 1)) if causal else int(rng.integers(1, 100))
        lim = int(rng.choice([1, 3, 127]))
        q, k, v = (rng.integers(-lim, lim + 1, (2, n, d)).astype(np.int8) for n in (n_q, n_k, n_k))
        p16 = int(rng.choice([1, 4096, HALF, 65535, spec.P16_ONE, int(rng.integers(1, spec.P16_ONE + 1))]))
        c, r = int(rng.integers(1, spec.C_LIMIT)), int(rng.integers(0, spec.R_MAX + 1))
        check(q, k, v, [None, SMALL][int(rng.integers(2))], permeability_q16=p16, causal=causal, c=c, r=r)


def test_regression_plan_covers_the_space():
    cases = regression.plan(400, 4096, seed=1)
    assert sum(c.heads for c in cases) >= 400
    assert sum(c.n_k == 4096 for c in cases) >= 2 and max(c.n_k for c in cases) == 4096
    assert {c.kind for c in cases} == set(regression.KINDS) and {c.d for c in cases} == {32, 64, 128}
    assert {c.causal for c in cases} == {False, True} and any(c.n_q != c.n_k for c in cases)
    assert any(c.p16 == spec.P16_ONE for c in cases) and min(c.p16 for c in cases) == 4096
    assert regression.plan(400, 4096, seed=1) == cases                  # reproducible
    q, k, v, c, r = regression.inputs(cases[0])
    assert q.dtype == k.dtype == v.dtype == np.int8 and q.min() >= spec.INT8_MIN
    spec.check_multiplier(c, r)


def test_regression_passes_and_catches_a_wrong_kernel(monkeypatch):
    assert regression.run(heads=6, max_seq=24, workers=1, log=lambda _: None)["mismatched_heads"] == 0
    real = kernels.attention

    def off_by_one_on_row_0(*args, **kw):                                 # a planted bug: one row off by 1
        out = real(*args, **kw).clone()
        out[..., 0, 0] += 1
        return out

    monkeypatch.setattr(kernels, "attention", off_by_one_on_row_0)
    lines = []
    summary = regression.run(heads=6, max_seq=24, workers=1, log=lines.append)
    assert summary["mismatched_heads"] == summary["heads"] > 0
    assert any(line.startswith("MISMATCH case") for line in lines)
