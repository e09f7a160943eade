//! Scalar activation functions. candle's `gelu_erf` calls a scalar software `erf` per element and
//! took about 9% of encoder time; this GELU uses the Abramowitz-Stegun 7.1.26 erf (absolute
//! error below 1.5e-7, far under the model's own f32/Q4 noise). The packed GEMM's portable path
//! and the tests of its SIMD path use it.

/// Abramowitz-Stegun 7.1.26: `erf(x) ≈ 1 - t·(a1 + t·(a2 + ...)) e^(-x²)`, `t = 1/(1 + P x)`.
/// Shared with the SIMD GELUs in `gemm.rs`.
pub(crate) const ERF_P: f32 = 0.327_591_1;
/// a5 down to a1 (Horner order).
pub(crate) const ERF_A: [f32; 5] = [
    1.061_405_4,
    -1.453_152_1,
    1.421_413_8,
    -0.284_496_74,
    0.254_829_6,
];

/// ln 2 in two parts (high part exact in few bits), for `x - n ln2` without losing precision.
pub(crate) const LN2_HI: f32 = 0.693_359_4;
/// See [`LN2_HI`].
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
/// Cephes' polynomial for e^r on [-ln2/2, ln2/2], highest degree first; `e^r ≈ 1 + r + p(r) r²`.
/// Shared with the SIMD `exp`s in `gemm.rs`.
pub(crate) const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

#[inline]
fn erf(x: f32) -> f32 {
    let s = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + ERF_P * x);
    let poly = t * ERF_A[1..].iter().fold(ERF_A[0], |p, &c| p * t + c);
    s * (1.0 - poly * (-x * x).exp())
}

/// Exact-erf GELU, `0.5 x (1 + erf(x / sqrt 2))`, of one value.
#[inline]
pub fn gelu_scalar(v: f32) -> f32 {
    0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2))
}

/// `e^x` for `x <= 0` without a library call, so that loops over it vectorise (attention's
/// softmax): x = n·ln2 + r, a degree-6 polynomial for e^r, 2^n through the exponent bits, as the
/// AVX2 kernel does. Relative error ~2e-7; 0 below -87.
#[inline(always)]
pub fn exp_fast(x: f32) -> f32 {
    let x = x.max(-87.0);
    // Round to nearest by the 1.5·2^23 trick: no rounding instruction needed, and the sum's
    // low mantissa bits are n itself (two's complement, |n| <= 126), so 2^n is built from bits.
    // `n as i32` would not do: its saturating, NaN-checked conversion kept the softmax loop
    // scalar (a third of attention's time on passages).
    const MAGIC: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * LN2_HI;
    let r = r - n * LN2_LO;
    let p = EXP_POLY[1..].iter().fold(EXP_POLY[0], |p, &c| p * r + c);
    let p = p * r * r + r + 1.0;
    let two_n = (t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127)) << 23;
    p * f32::from_bits(two_n)
}

#[cfg(test)]
mod exp_tests {
    #[test]
    fn exp_fast_matches_exp() {
        for i in 0..=9000 {
            let x = -(i as f32) / 100.0;
            let (got, want) = (super::exp_fast(x), (x as f64).exp());
            assert!(
                (got as f64 - want).abs() <= 1e-6 * want + 1e-37,
                "{x}: {got} vs {want}"
            );
        }
    }
}
