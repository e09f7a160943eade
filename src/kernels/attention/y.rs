//! AVX2 inner loops of the attention kernel. A 16-wide block of eight query rows needs 16
//! accumulators, all of AVX2's registers, so the compiler's version spilled; these take the
//! eight rows as two passes of four (8 accumulators, 2 key or value halves, 1 broadcast: 11
//! registers), and the second load of each key row hits L1.

use std::arch::x86_64::*;

use super::{L, QR};

/// Rows kept in registers at a time.
const R: usize = 4;

/// Scores of eight query rows against keys `jb..jb+16`, accumulated over the head's `d`
/// columns (`kt` is the keys transposed, rows `np` apart).
#[inline(always)]
pub(super) unsafe fn scores(
    q: &[&[f32]; QR],
    kt: &[f32],
    np: usize,
    jb: usize,
    d: usize,
    out: &mut [f32],
) {
    assert!(jb + L <= np && kt.len() >= d * np && out.len() >= QR * np);
    assert!(q.iter().all(|r| r.len() >= d));
    for half in 0..QR / R {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        for c in 0..d {
            let k = kt.as_ptr().add(c * np + jb);
            let (k0, k1) = (_mm256_loadu_ps(k), _mm256_loadu_ps(k.add(8)));
            for r in 0..R {
                let qv = _mm256_set1_ps(*q[half * R + r].get_unchecked(c));
                lo[r] = _mm256_fmadd_ps(qv, k0, lo[r]);
                hi[r] = _mm256_fmadd_ps(qv, k1, hi[r]);
            }
        }
        for r in 0..R {
            let o = out.as_mut_ptr().add((half * R + r) * np + jb);
            _mm256_storeu_ps(o, lo[r]);
            _mm256_storeu_ps(o.add(8), hi[r]);
        }
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
    assert!(scores.len() >= QR * np && n <= np && qr <= QR);
    for half in 0..qr.div_ceil(R) {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        for j in 0..n {
            let vp = v.as_ptr().add(j * stride);
            let (v0, v1) = (_mm256_loadu_ps(vp), _mm256_loadu_ps(vp.add(8)));
            for r in 0..R {
                let p = _mm256_set1_ps(*scores.get_unchecked((half * R + r) * np + j));
                lo[r] = _mm256_fmadd_ps(p, v0, lo[r]);
                hi[r] = _mm256_fmadd_ps(p, v1, hi[r]);
            }
        }
        for r in 0..R.min(qr - half * R) {
            let row = half * R + r;
            let s = _mm256_set1_ps(inv[row]);
            // SAFETY: (caller) `dst` holds `qr` rows of 16 columns, `h` apart.
            _mm256_storeu_ps(dst.add(row * h), _mm256_mul_ps(lo[r], s));
            _mm256_storeu_ps(dst.add(row * h + 8), _mm256_mul_ps(hi[r], s));
        }
    }
}
