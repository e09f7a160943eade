//! The AVX2 paths of [`super`]. Narrow weights (±63): shifted u8 activation codes times the
//! weights by `vpmaddubsw` (pairs of products into i16 lanes, which 2·255·63 cannot saturate),
//! then `vpmaddwd` by ones into i32 lanes: 32 products per two multiplies, the weights streamed
//! as stored. Full-range weights: the weights widened to i16 as they are loaded, times i16
//! activations, by `vpmaddwd` (16 products per multiply, plus the widening). Both sums equal
//! the portable path's exactly.
//!
//! The panels are the VNNI layout (`[k/4][16 columns][4]` bytes per panel). In the byte kernel
//! one 32-byte load is eight columns by four k-steps and each i32 lane ends as one column's sum.
//! In the wide one a 16-byte load is four columns by four k-steps; widened, its eight i32 lanes
//! of `vpmaddwd` hold two partial sums per column, which are added pairwise once, after the k
//! loop, and the 16 columns go in two halves of eight so that six rows fit the 16 registers:
//! 12 accumulators, two weights, one broadcast.

use std::arch::x86_64::*;

use super::{MR, NR};

/// The scale of one row (`max|x| / 127`, 1 for a zero row).
#[target_feature(enable = "avx2,fma")]
unsafe fn row_scale(src: &[f32]) -> f32 {
    let full = src.len() / 8 * 8;
    let sign = _mm256_set1_ps(-0.0);
    let mut m = _mm256_setzero_ps();
    for c in (0..full).step_by(8) {
        m = _mm256_max_ps(
            m,
            _mm256_andnot_ps(sign, _mm256_loadu_ps(src.as_ptr().add(c))),
        );
    }
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), m);
    let max = src[full..]
        .iter()
        .chain(&lanes)
        .fold(0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        max / 127.0
    } else {
        1.0
    }
}

/// Codes of `src[c..c + 8]`, rounded and clamped to ±127, in i32 lanes.
#[inline(always)]
unsafe fn codes8(src: *const f32, vinv: __m256) -> __m256i {
    let v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src), vinv));
    _mm256_min_epi32(
        _mm256_max_epi32(v, _mm256_set1_epi32(-127)),
        _mm256_set1_epi32(127),
    )
}

/// One row of [`super::Rows::quantize`] as i16 codes; returns its scale. The same codes as the
/// portable path: `cvtps` rounds half to even, like [`super::round_i32`].
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_row(src: &[f32], dst: &mut [i16]) -> f32 {
    assert!(dst.len() >= src.len());
    let full = src.len() / 16 * 16;
    let scale = row_scale(src);
    let inv = 1.0 / scale;
    let vinv = _mm256_set1_ps(inv);
    for c in (0..full).step_by(16) {
        let q = |o: usize| codes8(src.as_ptr().add(c + o), vinv);
        // packs works within 128-bit lanes: [a0-3 b0-3 a4-7 b4-7], put back in order.
        let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(q(0), q(8)));
        _mm256_storeu_si256(dst.as_mut_ptr().add(c) as *mut __m256i, packed);
    }
    for (d, &v) in dst[full..].iter_mut().zip(&src[full..]) {
        *d = super::round_i32(v * inv).clamp(-127, 127) as i16;
    }
    scale
}

/// One row of [`super::Rows::quantize`] as shifted u8 codes (`q + 128`); returns its scale.
/// The same codes as the portable path.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_row_shifted(src: &[f32], dst: &mut [u8]) -> f32 {
    assert!(dst.len() >= src.len());
    let full = src.len() / 32 * 32;
    let scale = row_scale(src);
    let inv = 1.0 / scale;
    let vinv = _mm256_set1_ps(inv);
    // Packing works within 128-bit lanes: after both packs the 32-bit groups are
    // [c0-3 c8-11 c16-19 c24-27 | c4-7 c12-15 c20-23 c28-31]; the permute puts them in order.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let flip = _mm256_set1_epi8(-128);
    for c in (0..full).step_by(32) {
        let q = |o: usize| codes8(src.as_ptr().add(c + o), vinv);
        let words = (
            _mm256_packs_epi32(q(0), q(8)),
            _mm256_packs_epi32(q(16), q(24)),
        );
        let bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words.0, words.1), order);
        // q + 128 as a byte is q with its top bit flipped.
        let shifted = _mm256_xor_si256(bytes, flip);
        _mm256_storeu_si256(dst.as_mut_ptr().add(c) as *mut __m256i, shifted);
    }
    for (d, &v) in dst[full..].iter_mut().zip(&src[full..]) {
        *d = (super::round_i32(v * inv).clamp(-127, 127) + 128) as u8;
    }
    scale
}

/// `R <= 4` rows x 16 columns from shifted u8 codes `u` (`R` rows of `kp`) and a panel of
/// narrow weights (|w| <= 63, which the caller checks: the byte product would saturate beyond).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn micro_bytes<const R: usize>(
    u: &[u8],
    kp: usize,
    panel: &[i8],
    row_scale: &[f32],
    col_scale: &[f32],
    col_sum: &[i32],
    bias: &[f32],
    out: &mut [f32; MR * NR],
) {
    assert!(R <= 4 && u.len() >= R * kp && panel.len() >= kp * NR);
    assert!(row_scale.len() >= R && col_scale.len() >= NR && bias.len() >= NR);
    assert!(col_sum.len() >= NR && kp.is_multiple_of(4));
    let up = u.as_ptr();
    let ones = _mm256_set1_epi16(1);
    // lo: columns 0..8, hi: 8..16, one column per i32 lane.
    let mut lo = [_mm256_setzero_si256(); R];
    let mut hi = [_mm256_setzero_si256(); R];
    let mut pp = panel.as_ptr();
    for step in 0..kp / 4 {
        let w0 = _mm256_loadu_si256(pp as *const __m256i);
        let w1 = _mm256_loadu_si256(pp.add(32) as *const __m256i);
        for i in 0..R {
            // Four u8 codes of row i, repeated in each 32-bit lane.
            let a = _mm256_set1_epi32((up.add(i * kp + step * 4) as *const i32).read_unaligned());
            let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a, w0), ones);
            let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(a, w1), ones);
            lo[i] = _mm256_add_epi32(lo[i], p0);
            hi[i] = _mm256_add_epi32(hi[i], p1);
        }
        pp = pp.add(NR * 4);
    }
    for (half, acc) in [lo, hi].iter().enumerate() {
        let cs = _mm256_loadu_ps(col_scale.as_ptr().add(half * 8));
        let b = _mm256_loadu_ps(bias.as_ptr().add(half * 8));
        // Σ (q + 128)·w = Σ q·w + 128·Σ w.
        let shift = _mm256_slli_epi32::<7>(_mm256_loadu_si256(
            col_sum.as_ptr().add(half * 8) as *const __m256i
        ));
        for (i, &a) in acc.iter().enumerate() {
            let sums = _mm256_sub_epi32(a, shift);
            let s = _mm256_mul_ps(cs, _mm256_set1_ps(row_scale[i]));
            let v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), s, b);
            _mm256_storeu_ps(out.as_mut_ptr().add(i * NR + half * 8), v);
        }
    }
}

/// `R <= 6` rows x 16 columns from i16 codes `q` (`R` rows of `kp`) and a VNNI-layout panel.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn micro<const R: usize>(
    q: &[i16],
    kp: usize,
    panel: &[i8],
    row_scale: &[f32],
    col_scale: &[f32],
    bias: &[f32],
    out: &mut [f32; MR * NR],
) {
    assert!(R <= 6 && q.len() >= R * kp && panel.len() >= kp * NR);
    assert!(row_scale.len() >= R && col_scale.len() >= NR && bias.len() >= NR);
    assert!(kp.is_multiple_of(4));
    let qp = q.as_ptr();
    for half in 0..2 {
        // lo: columns half·8 + 0..4, hi: + 4..8; lanes 2c and 2c+1 are column c's two halves of
        // each step of four k.
        let mut lo = [_mm256_setzero_si256(); R];
        let mut hi = [_mm256_setzero_si256(); R];
        let mut pp = panel.as_ptr().add(half * 32);
        for step in 0..kp / 4 {
            let w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pp as *const __m128i));
            let w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pp.add(16) as *const __m128i));
            for i in 0..R {
                // Four i16 codes of row i, repeated in each 64-bit lane.
                let a =
                    _mm256_set1_epi64x((qp.add(i * kp + step * 4) as *const i64).read_unaligned());
                lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(a, w0));
                hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(a, w1));
            }
            pp = pp.add(NR * 4);
        }
        let cs = _mm256_loadu_ps(col_scale.as_ptr().add(half * 8));
        let b = _mm256_loadu_ps(bias.as_ptr().add(half * 8));
        for i in 0..R {
            // hadd gives columns [0 1 4 5 | 2 3 6 7]; the permute puts them in order.
            let sums = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(lo[i], hi[i]));
            let s = _mm256_mul_ps(cs, _mm256_set1_ps(row_scale[i]));
            let v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), s, b);
            _mm256_storeu_ps(out.as_mut_ptr().add(i * NR + half * 8), v);
        }
    }
}
