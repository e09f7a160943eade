//! The AVX2/FMA micro-kernel of [`super`] (12 accumulators of 8 lanes), its GELU and the softmax exponent.

use std::arch::x86_64::*;

use crate::kernels::activation::{ERF_A, ERF_P, EXP_POLY, LN2_HI, LN2_LO};

use super::{MR, NR};

/// The 6x16 (or fewer rows) AVX2 micro-kernel; `R` is a constant so the accumulators are
/// registers.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn micro<const R: usize>(
    a: &[f32],
    k: usize,
    panel: &[f32],
    bias: &[f32],
    out: &mut [f32; MR * NR],
) {
    assert!(a.len() >= R * k && panel.len() >= k * NR && bias.len() >= NR);
    let b0 = _mm256_loadu_ps(bias.as_ptr());
    let b1 = _mm256_loadu_ps(bias.as_ptr().add(8));
    let mut lo = [b0; R];
    let mut hi = [b1; R];
    let ap = a.as_ptr();
    let mut pp = panel.as_ptr();
    for kk in 0..k {
        let w0 = _mm256_loadu_ps(pp);
        let w1 = _mm256_loadu_ps(pp.add(8));
        for i in 0..R {
            let av = _mm256_broadcast_ss(&*ap.add(i * k + kk));
            lo[i] = _mm256_fmadd_ps(av, w0, lo[i]);
            hi[i] = _mm256_fmadd_ps(av, w1, hi[i]);
        }
        pp = pp.add(NR);
    }
    for i in 0..R {
        _mm256_storeu_ps(out.as_mut_ptr().add(i * NR), lo[i]);
        _mm256_storeu_ps(out.as_mut_ptr().add(i * NR + 8), hi[i]);
    }
}

/// `e^x` for x <= 0 (all GELU needs), Cephes-style: x = n ln2 + r, a degree-6 polynomial
/// for e^r, 2^n through the exponent bits. Relative error ~2e-7; underflows to 0 below -87.
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_nonpositive(x: __m256) -> __m256 {
    let x = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    // r = x - n ln2, in two parts for accuracy.
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut p = _mm256_set1_ps(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(*c));
    }
    let p = _mm256_fmadd_ps(
        _mm256_mul_ps(p, r),
        r,
        _mm256_add_ps(r, _mm256_set1_ps(1.0)),
    );
    let pow2n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    )));
    _mm256_mul_ps(p, pow2n)
}

/// `v = e^(v - max)` over a row (8 lanes at a time, scalar tail); returns the sum.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn exp_shifted(row: &mut [f32], max: f32) -> f32 {
    let m = _mm256_set1_ps(max);
    let mut acc = _mm256_setzero_ps();
    let mut chunks = row.chunks_exact_mut(8);
    for c in &mut chunks {
        let e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), m));
        acc = _mm256_add_ps(acc, e);
        _mm256_storeu_ps(c.as_mut_ptr(), e);
    }
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
    let mut sum: f32 = lanes.iter().sum();
    for v in chunks.into_remainder() {
        *v = (*v - max).exp();
        sum += *v;
    }
    sum
}

/// GELU of 8 lanes at a time, with the same Abramowitz-Stegun erf as the scalar form.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gelu(v: &mut [f32]) {
    assert!(v.len().is_multiple_of(8));
    let sign_mask = _mm256_set1_ps(-0.0);
    let one = _mm256_set1_ps(1.0);
    for chunk in v.chunks_exact_mut(8) {
        let x = _mm256_loadu_ps(chunk.as_ptr());
        let z = _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        let sign = _mm256_and_ps(z, sign_mask);
        let a = _mm256_andnot_ps(sign_mask, z);
        let t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(ERF_P), a, one));
        let mut poly = _mm256_set1_ps(ERF_A[0]);
        for c in &ERF_A[1..] {
            poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(*c));
        }
        poly = _mm256_mul_ps(poly, t);
        let e = exp_nonpositive(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
        let erf_abs = _mm256_fnmadd_ps(poly, e, one);
        let erf = _mm256_or_ps(erf_abs, sign);
        let y = _mm256_mul_ps(
            _mm256_mul_ps(_mm256_set1_ps(0.5), x),
            _mm256_add_ps(one, erf),
        );
        _mm256_storeu_ps(chunk.as_mut_ptr(), y);
    }
}
