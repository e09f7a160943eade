//! The AVX2 path of [`super`]: int8 weights widened to i16 as they are loaded, times i16
//! activations, by `vpmaddwd`.
//!
//! AVX2's byte multiply (`vpmaddubsw`) adds two u8 x i8 products into a saturating i16, and
//! two such products reach 2·255·127: it loses sums unless weights or activations give up a bit.
//! `vpmaddwd` on widened operands multiplies the same int8 codes exactly (each pair of products
//! into an i32 lane) at eight products per instruction and lane pair, twice the multiplies per
//! instruction of an f32 FMA, while the weights still stream at one byte each. Its sums equal
//! the portable path's integer sums exactly.
//!
//! The panels are the VNNI layout (`[k/4][16 columns][4]` bytes per panel). One 16-byte load is
//! four columns by four k-steps; widened, its eight i32 lanes of `vpmaddwd` hold two partial sums
//! per column, which are added pairwise once, after the k loop. The 16 columns go in two halves
//! of eight so that six rows fit the 16 registers: 12 accumulators, two weights, one broadcast.

use std::arch::x86_64::*;

use super::{MR, NR};

/// One row of [`super::Rows::quantize`] as i16 codes; returns its scale. The same codes as the
/// portable path: `cvtps` rounds half to even, like [`super::round_i32`].
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_row(src: &[f32], dst: &mut [i16]) -> f32 {
    assert!(dst.len() >= src.len());
    let full = src.len() / 16 * 16;
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
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let inv = 1.0 / scale;
    let vinv = _mm256_set1_ps(inv);
    let (lo, hi) = (_mm256_set1_epi32(-127), _mm256_set1_epi32(127));
    for c in (0..full).step_by(16) {
        let q = |o: usize| {
            let v = _mm256_mul_ps(_mm256_loadu_ps(src.as_ptr().add(c + o)), vinv);
            _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), lo), hi)
        };
        // packs works within 128-bit lanes: [a0-3 b0-3 a4-7 b4-7], put back in order.
        let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(q(0), q(8)));
        _mm256_storeu_si256(dst.as_mut_ptr().add(c) as *mut __m256i, packed);
    }
    for (d, &v) in dst[full..].iter_mut().zip(&src[full..]) {
        *d = super::round_i32(v * inv).clamp(-127, 127) as i16;
    }
    scale
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
