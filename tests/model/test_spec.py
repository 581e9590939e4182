"""Numerics contract constants and host-side conversions, checked independently."""

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest

from hpu_model import spec


def test_lut_matches_high_precision_formula():
    getcontext().prec = 50
    for f, value in enumerate(spec.LUT):
        exact = Decimal(32768) * Decimal(2) ** (Decimal(-f) / 256)
        assert value == int((exact + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR")), f


def test_lut_checksum_and_shape():
    assert len(spec.LUT) == 256 and spec.LUT[0] == 32768
    assert sum(spec.LUT) == 6059301
    assert all(a > b for a, b in zip(spec.LUT, spec.LUT[1:]))  # strictly decreasing


@pytest.mark.parametrize("t", [0, 1, 255, 256, 257, 1000, 3839, 4095])
def test_exp2_lut_follows_shift_rule(t):
    assert spec.exp2_lut(np.array([t]))[0] == spec.LUT[t % 256] >> (t // 256)


def test_exp2_lut_cutoff_and_close_to_exp2():
    t = np.arange(0, 6000)
    e = spec.exp2_lut(t)
    assert (e[t >= 4096] == 0).all() and e[4095] == spec.LUT[255] >> 15
    # Within one LSB of the real function (truncation after the shift).
    assert np.all(np.abs(e[:4096] - 32768 * 2.0 ** (-t[:4096] / 256)) <= 1.0)


@pytest.mark.parametrize("p, p16", [(1.0, 65536), (0.5, 32768), (0.25, 16384), (1 / 65536, 1), (1e-9, 1),
                                    (0.3, 19661), (1 / 3, 21845)])
def test_permeability_q16(p, p16):
    assert spec.permeability_q16(p) == p16


@pytest.mark.parametrize("p", [0, -0.5, 1.0000001, float("nan"), float("inf"), "x", None])
def test_permeability_q16_rejects(p):
    with pytest.raises(spec.SpecError, match="permeability"):
        spec.permeability_q16(p)


@pytest.mark.parametrize("alpha", [1e-6, 0.0123, 0.18033688, 0.5, 1.0, 17.0, 127.9])
def test_softmax_multiplier_is_largest_r_that_fits(alpha):
    c, r = spec.softmax_multiplier(alpha)
    assert 1 <= c < 2**15 and 0 <= r <= 24
    assert c == math.floor(alpha * 2 ** (8 + r) + 0.5)
    if r < 24:  # one more bit of precision would overflow C
        assert math.floor(alpha * 2 ** (9 + r) + 0.5) >= 2**15
    assert abs(c / 2 ** (8 + r) - alpha) <= 0.5 / 2 ** (8 + r)


@pytest.mark.parametrize("alpha", [0.0, -1.0, 1e-12, 200.0, float("nan")])
def test_softmax_multiplier_rejects(alpha):
    with pytest.raises(spec.SpecError, match="alpha"):
        spec.softmax_multiplier(alpha)


def test_keep_count_is_integer_ceil():
    for valid in (1, 2, 3, 7, 64, 257, 32768):
        for p16 in (1, 4096, 19661, 32768, 65535, 65536):
            k = int(spec.keep_count(valid, p16))
            assert k == min(max(math.ceil(valid * p16 / 65536), 1), valid)


def test_n_valid_is_bottom_right_aligned():
    assert spec.n_valid(3, 5, True).tolist() == [3, 4, 5]
    assert spec.n_valid(3, 5, False).tolist() == [5, 5, 5]


def test_widths_bound_the_extremes():
    assert spec.SCORE_BITS == 23 and -(2 ** 22) < 256 * 127 * -127 and 256 * 127 * 127 < 2 ** 22
    assert spec.T_BITS == 38 and (2**23 - 1) * (2**15 - 1) < 2**38
    assert spec.Z_BITS == 31 and spec.SEQ_MAX * spec.E_MAX < 2**31
    assert spec.ACC_BITS == 38 and spec.SEQ_MAX * spec.E_MAX * 127 < 2**37
    assert spec.RECIP_BITS == 26 and 2**40 // 2**15 < 2**26
    assert spec.score_bits(64) == (64 * 127 * 127).bit_length() + 1


def test_check_multiplier_and_p16():
    assert spec.check_multiplier(1, 0) == (1, 0)
    for bad in ((0, 0), (2**15, 0), (5, 25), (5, -1), (1.5, 3), (True, 3)):
        with pytest.raises(spec.SpecError):
            spec.check_multiplier(*bad)
    for bad in (0, 65537, -1, 0.5):
        with pytest.raises(spec.SpecError, match="permeability_q16"):
            spec.check_p16(bad)
