//! The int8 form of the dense layers: `y = act(x·Wᵀ + b)` with `W` quantized once at load (one
//! scale per output column) and each row of `x` quantized when the layer runs (one scale per
//! row, so a token with large activations does not crush the others' precision).
//!
//! AVX-512 VNNI's `vpdpbusd` multiplies 64 unsigned bytes by 64 signed bytes and adds each group
//! of four products into a 32-bit lane: four times the multiply-adds of an f32 FMA per
//! instruction, and a quarter of the weight bytes to stream (a 17-token query reads every weight
//! once, so it is bound by memory, not arithmetic). The unsigned operand is the activation
//! shifted by 128 (`u = q + 128`); the shift is taken back out with each column's weight sum:
//! `Σ u·w = Σ q·w + 128·Σ w`.
//!
//! Residual adds, LayerNorm, softmax and the mean pooling stay in f32; only the four matrix
//! multiplies of each layer run in int8.

use rayon::prelude::*;

use super::gemm::{MR, NR};
use super::Isa;

/// Weights of one layer: panels of 16 output columns, each k-step of four bytes per column
/// (`[n/16][k/4][16][4]`, k padded to a multiple of 4 with zeros), and per column its scale and
/// weight sum.
pub struct Panels {
    kp: usize,
    data: Vec<i8>,
    scale: Vec<f32>,
    sum: Vec<i32>,
}

impl Panels {
    /// Quantizes and packs `w` (`n` rows of `k`, row-major): `w[j][k] ≈ q[j][k] · scale[j]`,
    /// `scale[j] = max_k |w[j][k]| / 127`.
    pub fn pack(w: &[f32], n: usize, k: usize) -> Self {
        let kp = k.div_ceil(4) * 4;
        let np = n.div_ceil(NR);
        let mut data = vec![0i8; np * kp * NR];
        let mut scale = vec![0f32; np * NR];
        let mut sum = vec![0i32; np * NR];
        for j in 0..n {
            let row = &w[j * k..(j + 1) * k];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            let (p, c) = (j / NR, j % NR);
            let panel = &mut data[p * kp * NR..(p + 1) * kp * NR];
            for (kk, &v) in row.iter().enumerate() {
                let q = round_i32(v / s).clamp(-127, 127);
                panel[(kk / 4) * NR * 4 + c * 4 + kk % 4] = q as i8;
                sum[j] += q;
            }
            scale[j] = s;
        }
        Panels {
            kp,
            data,
            scale,
            sum,
        }
    }

    /// The padded input width.
    pub fn kp(&self) -> usize {
        self.kp
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() + 8 * self.scale.len()
    }

    fn panel(&self, p: usize) -> &[i8] {
        &self.data[p * self.kp * NR..(p + 1) * self.kp * NR]
    }
}

/// Rows of an input quantized for the kernel: `x[i][k] ≈ (u[i][k] - 128) · scale[i]`.
pub struct Rows {
    kp: usize,
    data: Vec<u8>,
    scale: Vec<f32>,
}

impl Rows {
    /// Quantizes `x` (`m` rows of `k`) to rows of `kp >= k` bytes (the tail is 128, zero).
    pub fn quantize(isa: Isa, x: &[f32], m: usize, k: usize, kp: usize) -> Self {
        // Safe for any `isa`: a path this CPU lacks falls back to the portable one.
        let isa = isa.or_portable();
        let mut data = vec![128u8; m * kp];
        let mut scale = vec![1f32; m];
        let row = |(src, (dst, scale)): (&[f32], (&mut [u8], &mut f32))| {
            #[cfg(target_arch = "x86_64")]
            if isa == Isa::Avx512Vnni {
                // SAFETY: `or_portable` above keeps `Isa::Avx512Vnni` only on a CPU with AVX-512 F/BW.
                *scale = unsafe { vnni::quantize_row(src, dst) };
                return;
            }
            let max = src.iter().fold(0f32, |m, v| m.max(v.abs()));
            if max > 0.0 {
                *scale = max / 127.0;
            }
            let inv = 1.0 / *scale;
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = (round_i32(v * inv).clamp(-127, 127) + 128) as u8;
            }
        };
        // Tall inputs (passage batches) are split over the pool; a query's few rows are not
        // worth the hand-off.
        if m >= 256 {
            x.par_chunks(k)
                .zip(data.par_chunks_mut(kp).zip(scale.par_iter_mut()))
                .for_each(row);
        } else {
            x.chunks_exact(k)
                .zip(data.chunks_exact_mut(kp).zip(scale.iter_mut()))
                .for_each(row);
        }
        Rows { kp, data, scale }
    }
}

/// Round half to even (as the SIMD conversion does) for |v| < 2^22, by the 1.5·2^23 trick:
/// `f32::round` is a libm call on the baseline x86-64 target, and this runs per activation.
#[inline]
fn round_i32(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    ((v + MAGIC) - MAGIC) as i32
}

/// `out[i][c] = bias[c] + Σ_k x[r+i][k]·w[p·16+c][k]` for `mr <= 12` rows, from the quantized
/// rows and panel `p`.
#[allow(clippy::too_many_arguments)]
pub(super) fn micro(
    isa: Isa,
    rows: &Rows,
    r: usize,
    mr: usize,
    panels: &Panels,
    p: usize,
    bias: &[f32],
    out: &mut [f32; MR * NR],
) {
    let kp = panels.kp;
    debug_assert_eq!(rows.kp, kp);
    let u = &rows.data[r * kp..(r + mr) * kp];
    let row_scale = &rows.scale[r..r + mr];
    let panel = panels.panel(p);
    let col_scale = &panels.scale[p * NR..(p + 1) * NR];
    let col_sum = &panels.sum[p * NR..(p + 1) * NR];
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512Vnni {
        // SAFETY: `Isa::Avx512Vnni` is only ever chosen when the CPU has AVX-512 F/BW/VL/VNNI;
        // slice sizes are asserted inside.
        unsafe {
            macro_rules! rows {
                ($($r:literal)*) => {
                    match mr {
                        $($r => vnni::micro::<$r>(u, kp, panel, row_scale, col_scale, col_sum, bias, out),)*
                        _ => unreachable!(),
                    }
                };
            }
            rows!(1 2 3 4 5 6 7 8 9 10 11 12);
        }
        return;
    }
    let _ = isa;
    for i in 0..mr {
        let mut acc = [0i32; NR];
        for q in 0..kp / 4 {
            let a = &u[i * kp + q * 4..i * kp + q * 4 + 4];
            let w = &panel[q * NR * 4..(q + 1) * NR * 4];
            for (c, acc) in acc.iter_mut().enumerate() {
                for t in 0..4 {
                    *acc += a[t] as i32 * w[c * 4 + t] as i32;
                }
            }
        }
        for c in 0..NR {
            out[i * NR + c] =
                (acc[c] - 128 * col_sum[c]) as f32 * (row_scale[i] * col_scale[c]) + bias[c];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::gemm::{Activation, PackedLinear, Precision};
    use rand::{Rng, SeedableRng};

    #[test]
    fn quantized_rows_and_weights_round_trip() {
        let x = [0.5f32, -1.0, 0.25, 0.0, 1.0];
        let r = Rows::quantize(Isa::Portable, &x, 1, 5, 8);
        assert_eq!(r.data.len(), 8);
        assert_eq!(&r.data[5..], &[128, 128, 128]);
        for (u, v) in r.data.iter().zip(x) {
            assert!(((*u as f32 - 128.0) * r.scale[0] - v).abs() <= r.scale[0] / 2.0);
        }
        let zero = Rows::quantize(Isa::Portable, &[0.0; 4], 1, 4, 4);
        assert_eq!(zero.data, [128; 4]);
        assert_eq!(round_i32(2.5), 2);
        assert_eq!(round_i32(-3.5), -4);
        assert_eq!(round_i32(126.6), 127);
        assert_eq!(round_i32(-0.4), 0);
    }

    /// Every path this CPU runs gives the portable int8 result (up to f32 rounding in the final
    /// scaling: the integer sums are exact on every path), and that result stays near f32.
    #[test]
    fn int8_paths_agree_and_track_f32() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for isa in Isa::missing() {
            eprintln!("skipped: this CPU has no {isa:?} path");
        }
        for &(m, n, k) in &[
            (1, 16, 4),
            (3, 40, 7),
            (13, 384, 384),
            (17, 1152, 384),
            (97, 48, 1536),
            (200, 64, 96),
        ] {
            let x: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let w: Vec<f32> = (0..n * k).map(|_| rng.gen_range(-0.1..0.1)).collect();
            let b: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            for act in [Activation::None, Activation::Gelu] {
                let exact = PackedLinear::new(&w, n, k, &b, act)
                    .on(Isa::Portable)
                    .forward(&x, m);
                let layer =
                    |isa| PackedLinear::with_precision(&w, n, k, &b, act, Precision::Int8).on(isa);
                let reference = layer(Isa::Portable).forward(&x, m);
                // Quantization error: ~sqrt(k) products, each off by about half a step of each
                // operand.
                let tol = 0.02 * (k as f32).sqrt() * 0.1;
                for (g, e) in reference.iter().zip(&exact) {
                    assert!((g - e).abs() < tol, "int8 vs f32 {m}x{n}x{k}: {g} vs {e}");
                }
                for isa in Isa::available() {
                    let got = layer(isa).forward(&x, m);
                    for (g, e) in got.iter().zip(&reference) {
                        assert!(
                            (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                            "{isa:?} {m}x{n}x{k}: {g} vs {e}"
                        );
                    }
                }
            }
        }
    }
}
