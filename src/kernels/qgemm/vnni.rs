//! The AVX-512 VNNI path of [`super`]: `vpdpbusd` over 16-column panels, one register per row.

use std::arch::x86_64::*;

use super::{MR, NR};

/// One row of [`super::Rows::quantize`]; returns its scale.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn quantize_row(src: &[f32], dst: &mut [u8]) -> f32 {
    assert!(dst.len() >= src.len());
    let full = src.len() / 16 * 16;
    let mut m = _mm512_setzero_ps();
    for c in (0..full).step_by(16) {
        m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(src.as_ptr().add(c))));
    }
    let max = src[full..]
        .iter()
        .fold(_mm512_reduce_max_ps(m), |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let inv = 1.0 / scale;
    let vinv = _mm512_set1_ps(inv);
    let shift = _mm512_set1_epi32(128);
    for c in (0..full).step_by(16) {
        // Rounds to nearest even (the default rounding mode); |v·inv| <= 127 up to rounding,
        // and the unsigned saturating narrow keeps the bytes in 0..=255 regardless.
        let q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(src.as_ptr().add(c)), vinv));
        let u = _mm512_cvtusepi32_epi8(_mm512_add_epi32(q, shift));
        _mm_storeu_si128(dst.as_mut_ptr().add(c) as *mut __m128i, u);
    }
    for (d, &v) in dst[full..].iter_mut().zip(&src[full..]) {
        *d = (super::round_i32(v * inv).clamp(-127, 127) + 128) as u8;
    }
    scale
}

/// `R` rows x 16 columns: one i32 accumulator register per row; each step of four k loads
/// one 64-byte panel row and broadcasts four activation bytes per row.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn micro<const R: usize>(
    u: &[u8],
    kp: usize,
    panel: &[i8],
    row_scale: &[f32],
    col_scale: &[f32],
    col_sum: &[i32],
    bias: &[f32],
    out: &mut [f32; MR * NR],
) {
    assert!(R <= MR && u.len() >= R * kp && panel.len() >= kp * NR);
    assert!(row_scale.len() >= R && col_scale.len() >= NR && col_sum.len() >= NR);
    assert!(bias.len() >= NR && kp.is_multiple_of(4));
    let mut acc = [_mm512_setzero_si512(); R];
    let up = u.as_ptr();
    let mut pp = panel.as_ptr();
    for q in 0..kp / 4 {
        let w = _mm512_loadu_si512(pp as *const __m512i);
        for (i, acc) in acc.iter_mut().enumerate() {
            let a = _mm512_set1_epi32((up.add(i * kp + q * 4) as *const i32).read_unaligned());
            *acc = _mm512_dpbusd_epi32(*acc, a, w);
        }
        pp = pp.add(NR * 4);
    }
    let shift = _mm512_mullo_epi32(
        _mm512_loadu_si512(col_sum.as_ptr() as *const __m512i),
        _mm512_set1_epi32(128),
    );
    let cs = _mm512_loadu_ps(col_scale.as_ptr());
    let b = _mm512_loadu_ps(bias.as_ptr());
    for (i, acc) in acc.iter().enumerate() {
        let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(*acc, shift));
        let s = _mm512_mul_ps(cs, _mm512_set1_ps(row_scale[i]));
        _mm512_storeu_ps(out.as_mut_ptr().add(i * NR), _mm512_fmadd_ps(v, s, b));
    }
}
