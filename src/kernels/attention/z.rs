//! AVX-512 inner loops of the attention kernel: eight query rows, one 16-lane register each.

use std::arch::x86_64::*;

use super::{L, QR};

/// Scores of eight query rows against keys `jb..jb+16`: one register per row, accumulated
/// over the head's `d` columns.
#[inline(always)]
pub(super) unsafe fn scores(
    q: &[&[f32]; QR],
    kt: &[f32],
    np: usize,
    jb: usize,
    d: usize,
    out: &mut [f32],
) {
    let mut acc = [_mm512_setzero_ps(); QR];
    for c in 0..d {
        let k = _mm512_loadu_ps(kt[c * np + jb..c * np + jb + L].as_ptr());
        for r in 0..QR {
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(*q[r].get_unchecked(c)), k, acc[r]);
        }
    }
    for r in 0..QR {
        _mm512_storeu_ps(out[r * np + jb..r * np + jb + L].as_mut_ptr(), acc[r]);
    }
}

/// Context columns `0..16` (of `v`, value rows `stride` apart) for `qr` query rows: the
/// probability-weighted sum of the `n` value rows, scaled by each row's `inv`, written at
/// `dst` (rows `h` apart).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) unsafe fn context(
    v: &[f32],
    stride: usize,
    n: usize,
    scores: &[f32],
    np: usize,
    inv: &[f32; QR],
    qr: usize,
    dst: *mut f32,
    h: usize,
) {
    assert!(n == 0 || v.len() >= (n - 1) * stride + L);
    assert!(scores.len() >= QR * np && n <= np);
    let mut acc = [_mm512_setzero_ps(); QR];
    for j in 0..n {
        let vr = _mm512_loadu_ps(v.as_ptr().add(j * stride));
        for r in 0..QR {
            let p = _mm512_set1_ps(*scores.get_unchecked(r * np + j));
            acc[r] = _mm512_fmadd_ps(p, vr, acc[r]);
        }
    }
    for r in 0..qr {
        _mm512_storeu_ps(
            dst.add(r * h),
            _mm512_mul_ps(acc[r], _mm512_set1_ps(inv[r])),
        );
    }
}
