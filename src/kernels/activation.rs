//! Scalar activation functions. candle's `gelu_erf` calls a scalar software `erf` per element and
//! took about 9% of encoder time; this GELU uses the Abramowitz-Stegun 7.1.26 erf (absolute
//! error below 1.5e-7, far under the model's own f32/Q4 noise). The packed GEMM's portable path
//! and the tests of its SIMD path use it.

#[inline]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152_1,
        1.061_405_4,
    ];
    let s = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + P * x);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    s * (1.0 - poly * (-x * x).exp())
}

/// Exact-erf GELU, `0.5 x (1 + erf(x / sqrt 2))`, of one value.
#[inline]
pub fn gelu_scalar(v: f32) -> f32 {
    0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2))
}
