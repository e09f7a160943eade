//! The AVX-512 micro-kernel of [`super`] (one 16-lane register per row of a tile) and its GELU.

use std::arch::x86_64::*;

use crate::kernels::activation::{ERF_A, ERF_P, EXP_POLY, LN2_HI, LN2_LO};

use super::{MR, NR};

/// The 12x16 (or fewer rows) AVX-512 micro-kernel: one 16-lane accumulator per row, the
/// panel row loaded once per k and each `x` value broadcast into its row's multiply-add.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn micro<const R: usize>(
    a: &[f32],
    k: usize,
    panel: &[f32],
    bias: &[f32],
    out: &mut [f32; MR * NR],
) {
    assert!(R <= MR && a.len() >= R * k && panel.len() >= k * NR && bias.len() >= NR);
    let b = _mm512_loadu_ps(bias.as_ptr());
    let mut acc = [b; R];
    let ap = a.as_ptr();
    let mut pp = panel.as_ptr();
    for kk in 0..k {
        let w = _mm512_loadu_ps(pp);
        for (i, acc) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_ps(*ap.add(i * k + kk));
            *acc = _mm512_fmadd_ps(av, w, *acc);
        }
        pp = pp.add(NR);
    }
    for (i, acc) in acc.iter().enumerate() {
        _mm512_storeu_ps(out.as_mut_ptr().add(i * NR), *acc);
    }
}

/// `e^x` for x <= 0, 16 lanes: the AVX2 kernel's Cephes-style polynomial at twice the width.
#[target_feature(enable = "avx512f")]
unsafe fn exp_nonpositive(x: __m512) -> __m512 {
    let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_set1_ps(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(*c));
    }
    let p = _mm512_fmadd_ps(
        _mm512_mul_ps(p, r),
        r,
        _mm512_add_ps(r, _mm512_set1_ps(1.0)),
    );
    // p · 2^n without building 2^n's bits (scalef is exact for these n).
    _mm512_scalef_ps(p, n)
}

/// GELU of 16 lanes at a time, with the same Abramowitz-Stegun erf as the scalar form; the
/// division is a reciprocal estimate refined by one Newton step (relative error ~1e-7).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gelu(v: &mut [f32]) {
    let one = _mm512_set1_ps(1.0);
    let two = _mm512_set1_ps(2.0);
    let full = v.len() / 16 * 16;
    let (body, tail) = v.split_at_mut(full);
    for x in tail {
        *x = crate::kernels::activation::gelu_scalar(*x);
    }
    for chunk in body.chunks_exact_mut(16) {
        let x = _mm512_loadu_ps(chunk.as_ptr());
        let z = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        let a = _mm512_abs_ps(z);
        let d = _mm512_fmadd_ps(_mm512_set1_ps(ERF_P), a, one);
        let r = _mm512_rcp14_ps(d);
        let t = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, two));
        let mut poly = _mm512_set1_ps(ERF_A[0]);
        for c in &ERF_A[1..] {
            poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(*c));
        }
        poly = _mm512_mul_ps(poly, t);
        let e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
        let erf_abs = _mm512_fnmadd_ps(poly, e, one);
        // erf takes z's sign: flip where z < 0.
        let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(z, _mm512_setzero_ps());
        let erf = _mm512_mask_sub_ps(erf_abs, neg, _mm512_setzero_ps(), erf_abs);
        let y = _mm512_mul_ps(
            _mm512_mul_ps(_mm512_set1_ps(0.5), x),
            _mm512_add_ps(one, erf),
        );
        _mm512_storeu_ps(chunk.as_mut_ptr(), y);
    }
}
