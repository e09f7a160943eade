//! Self-attention of one encoder layer as one kernel, and the residual add fused with
//! LayerNorm. As candle ops these were about thirty per layer for a query (head splits,
//! transposes, copies to contiguous, two matmuls and a softmax per sequence, a concatenation;
//! LayerNorm as eight element-wise passes), each allocating its output: for a 17-token query the
//! overhead outweighed the arithmetic, and for passages the copies were a tenth of the time.
//!
//! Here the fused Q|K|V rows are read in place and each head's context is written straight into
//! its columns of the output. Each (sequence, head) pair is independent, so pairs are spread
//! over the rayon pool when the work is large. The inner loops are plain Rust compiled once per
//! instruction set (`#[target_feature]` copies of one body), so the compiler vectorises them at
//! the width the CPU has.

// The blocked loops index several arrays (accumulators, keys, scores) by the same row and lane;
// iterators over one of them would hide that symmetry.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::Isa;

/// Shape of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Hidden width (heads x head width).
    pub h: usize,
    /// Attention heads.
    pub heads: usize,
}

/// Context vectors for `qkv` (rows of `[q | k | v]`, `3h` wide, with the attention scale
/// already folded into q), its sequences packed without padding: sequence `s` is the `lens[s]`
/// rows after those of the sequences before it, and each of its rows attends over them. A
/// batch of sequences of unequal lengths then costs its real tokens only, here and in every
/// dense layer around it. Returns one row of `h` per input row.
pub fn attend(isa: Isa, qkv: &[f32], lens: &[usize], shape: Shape, parallel: bool) -> Vec<f32> {
    let Shape { h, heads } = shape;
    let rows: usize = lens.iter().sum();
    assert_eq!(qkv.len(), rows * 3 * h, "qkv is not (sum of lens) x 3h");
    assert!(
        h.is_multiple_of(heads),
        "hidden width not a multiple of heads"
    );
    let starts: Vec<usize> = lens
        .iter()
        .scan(0, |at, &n| {
            let s = *at;
            *at += n;
            Some(s)
        })
        .collect();
    let mut out = vec![0f32; rows * h];
    let pairs = lens.len() * heads;
    let work: usize = lens.iter().map(|&n| n * n).sum::<usize>() * h;
    let out_addr = out.as_mut_ptr() as usize;
    let run = |pair: usize| {
        let (s, head) = (pair / heads, pair % heads);
        // SAFETY: pair (s, head) writes only the rows of sequence s, columns of `head`; pairs
        // are distinct, so no two runs write the same element, and `out` outlives the loop.
        unsafe {
            one_head(
                isa.or_portable(),
                qkv,
                starts[s],
                lens[s],
                head,
                shape,
                out_addr as *mut f32,
            )
        };
    };
    if parallel && work > 200_000 {
        (0..pairs).into_par_iter().for_each(run);
    } else {
        (0..pairs).for_each(run);
    }
    out
}

/// # Safety
/// `out` must hold `(row0 + n) * h` floats and no other thread may write this head's columns
/// of these rows.
unsafe fn one_head(
    isa: Isa,
    qkv: &[f32],
    row0: usize,
    n: usize,
    head: usize,
    shape: Shape,
    out: *mut f32,
) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        Isa::Avx512Vnni => return head_avx512(qkv, row0, n, head, shape, out),
        Isa::Avx2Fma => return head_avx2(qkv, row0, n, head, shape, out),
        Isa::Portable => {}
    }
    let _ = isa;
    head_body::<false, false, false>(qkv, row0, n, head, shape, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn head_avx512(qkv: &[f32], row0: usize, n: usize, head: usize, s: Shape, out: *mut f32) {
    head_body::<true, true, false>(qkv, row0, n, head, s, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn head_avx2(qkv: &[f32], row0: usize, n: usize, head: usize, s: Shape, out: *mut f32) {
    head_body::<true, false, true>(qkv, row0, n, head, s, out)
}

/// `a * b + c`, fused where the caller's instruction set has FMA (`mul_add` without it is a
/// slow library call).
#[inline(always)]
fn fma<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Lanes of the blocked loops: one AVX-512 register, two AVX2 ones.
const L: usize = 16;
/// Query rows handled together: each key or value row loaded serves eight of them, and eight
/// independent accumulators hide the multiply-add latency.
const QR: usize = 8;

/// One head of one sequence; `Z` (only ever true inside an AVX-512 function) takes the
/// explicit AVX-512 inner loops, where the compiler's own vectorisation of the blocked loops
/// spilled the accumulators, and `Y` (only inside an AVX2 function) the AVX2 ones, which keep
/// four rows in registers at a time where eight spilled (16 accumulators in 16 registers).
#[inline(always)]
unsafe fn head_body<const FUSED: bool, const Z: bool, const Y: bool>(
    qkv: &[f32],
    row0: usize,
    n: usize,
    head: usize,
    shape: Shape,
    out: *mut f32,
) {
    let Shape { h, heads, .. } = shape;
    let d = h / heads;
    let stride = 3 * h;
    let row = |i: usize, part: usize| {
        let at = (row0 + i) * stride + part * h + head * d;
        &qkv[at..at + d]
    };
    // Keys transposed ([d][np], np = n rounded up to L, zero-padded): a block of L scores is then
    // d multiply-adds of a broadcast query value into one register-wide accumulator.
    let np = n.div_ceil(L) * L;
    let mut kt = vec![0f32; d * np];
    for j in 0..n {
        for (c, &v) in row(j, 1).iter().enumerate() {
            kt[c * np + j] = v;
        }
    }
    let mut scores = vec![0f32; QR * np];
    let mut i0 = 0;
    while i0 < n {
        let qr = QR.min(n - i0);
        let q: [&[f32]; QR] = std::array::from_fn(|r| row(i0 + r.min(qr - 1), 0));
        for jb in (0..np).step_by(L) {
            #[cfg(target_arch = "x86_64")]
            if Z {
                z::scores(&q, &kt, np, jb, d, &mut scores);
                continue;
            }
            #[cfg(target_arch = "x86_64")]
            if Y {
                y::scores(&q, &kt, np, jb, d, &mut scores);
                continue;
            }
            let mut acc = [[0f32; L]; QR];
            for c in 0..d {
                let k: &[f32; L] = kt[c * np + jb..c * np + jb + L].try_into().expect("L wide");
                for r in 0..QR {
                    let qv = q[r][c];
                    for l in 0..L {
                        acc[r][l] = fma::<FUSED>(qv, k[l], acc[r][l]);
                    }
                }
            }
            for r in 0..QR {
                scores[r * np + jb..r * np + jb + L].copy_from_slice(&acc[r]);
            }
        }
        let mut inv = [0f32; QR];
        for r in 0..qr {
            let s = &mut scores[r * np..r * np + n];
            let mut lanes = [f32::NEG_INFINITY; L];
            for chunk in s.chunks(L) {
                for (m, &v) in lanes.iter_mut().zip(chunk) {
                    *m = m.max(v);
                }
            }
            let max = lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            s.iter_mut()
                .for_each(|v| *v = super::activation::exp_fast(*v - max));
            let mut sums = [0f32; L];
            for chunk in s.chunks(L) {
                for (a, &v) in sums.iter_mut().zip(chunk) {
                    *a += v;
                }
            }
            inv[r] = 1.0 / sums.iter().sum::<f32>();
        }
        // Context: for each block of L columns, the weighted sum of value rows, kept in
        // registers over all keys.
        let mut c0 = 0;
        while c0 < d {
            let w = L.min(d - c0);
            #[cfg(target_arch = "x86_64")]
            if (Z || Y) && w == L {
                let base = row0 * stride + 2 * h + head * d + c0;
                let (v, dst) = (&qkv[base..], out.add((row0 + i0) * h + head * d + c0));
                // Direct calls, not a function pointer: each must inline into its
                // target-feature caller.
                if Z {
                    z::context(v, stride, n, &scores, np, &inv, qr, dst, h);
                } else {
                    y::context(v, stride, n, &scores, np, &inv, qr, dst, h);
                }
                c0 += w;
                continue;
            }
            let mut acc = [[0f32; L]; QR];
            if w == L {
                // The common case, with the block width a constant so the accumulators stay in
                // registers.
                for j in 0..n {
                    let v: &[f32; L] = row(j, 2)[c0..c0 + L].try_into().expect("L wide");
                    for r in 0..QR {
                        let p = scores[r * np + j];
                        for l in 0..L {
                            acc[r][l] = fma::<FUSED>(p, v[l], acc[r][l]);
                        }
                    }
                }
            } else {
                for j in 0..n {
                    let v = &row(j, 2)[c0..c0 + w];
                    for r in 0..QR {
                        let p = scores[r * np + j];
                        for l in 0..w {
                            acc[r][l] = fma::<FUSED>(p, v[l], acc[r][l]);
                        }
                    }
                }
            }
            for r in 0..qr {
                // SAFETY: (caller) this row's columns of this head belong to this call alone.
                let dst = out.add((row0 + i0 + r) * h + head * d + c0);
                for l in 0..w {
                    *dst.add(l) = acc[r][l] * inv[r];
                }
            }
            c0 += w;
        }
        i0 += qr;
    }
}

#[cfg(target_arch = "x86_64")]
mod y;
#[cfg(target_arch = "x86_64")]
mod z;

/// `x = LayerNorm(x + residual)` row by row (width `h`), in place in `x`.
pub fn add_layer_norm(
    isa: Isa,
    x: &mut [f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let h = gamma.len();
    assert!(x.len() == residual.len() && beta.len() == h && x.len().is_multiple_of(h));
    let rows = |x: &mut [f32], residual: &[f32]| {
        #[cfg(target_arch = "x86_64")]
        if isa.or_portable() >= Isa::Avx2Fma {
            // SAFETY: the CPU has AVX2 and FMA (checked by `or_portable`).
            unsafe { add_ln_avx2(x, residual, gamma, beta, eps) };
            return;
        }
        add_ln_body(x, residual, gamma, beta, eps)
    };
    // Blocks of 64 rows over the pool when there are many: on its own thread this was a tenth
    // of a passage batch's time.
    const BLOCK: usize = 64;
    if x.len() >= 4 * BLOCK * h {
        x.par_chunks_mut(BLOCK * h)
            .zip(residual.par_chunks(BLOCK * h))
            .for_each(|(x, r)| rows(x, r));
    } else {
        rows(x, residual)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_ln_avx2(x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    add_ln_body(x, residual, gamma, beta, eps)
}

#[inline(always)]
fn add_ln_body(x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let h = gamma.len();
    for (row, res) in x.chunks_exact_mut(h).zip(residual.chunks_exact(h)) {
        let mut sum = [0f32; 8];
        for (i, (v, r)) in row.iter_mut().zip(res).enumerate() {
            *v += r;
            sum[i % 8] += *v;
        }
        let mean = sum.iter().sum::<f32>() / h as f32;
        let mut sq = [0f32; 8];
        for (i, v) in row.iter().enumerate() {
            let c = v - mean;
            sq[i % 8] += c * c;
        }
        let inv = 1.0 / (sq.iter().sum::<f32>() / h as f32 + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Attention of one head by the definition, in f64.
    fn naive(qkv: &[f32], lens: &[usize], s: Shape) -> Vec<f32> {
        let (h, d) = (s.h, s.h / s.heads);
        let mut out = vec![0f32; lens.iter().sum::<usize>() * h];
        let mut row0 = 0;
        for &n in lens {
            for head in 0..s.heads {
                let at = |i: usize, part: usize, c: usize| {
                    qkv[(row0 + i) * 3 * h + part * h + head * d + c] as f64
                };
                for i in 0..n {
                    let sc: Vec<f64> = (0..n)
                        .map(|j| (0..d).map(|c| at(i, 0, c) * at(j, 1, c)).sum())
                        .collect();
                    let max = sc.iter().copied().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = sc.iter().map(|v| (v - max).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for c in 0..d {
                        let v: f64 = (0..n).map(|j| e[j] / z * at(j, 2, c)).sum();
                        out[(row0 + i) * h + head * d + c] = v as f32;
                    }
                }
            }
            row0 += n;
        }
        out
    }

    #[test]
    fn every_path_matches_the_definition() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for isa in Isa::missing() {
            eprintln!("skipped: this CPU has no {isa:?} path");
        }
        for (lens, h, heads) in [
            (vec![1], 8, 2),
            (vec![5, 3], 12, 3),
            (vec![17], 384, 12),
            (vec![40, 1, 33], 64, 2),
            (vec![3, 0, 7], 16, 2),
        ] {
            let shape = Shape { h, heads };
            let qkv: Vec<f32> = (0..lens.iter().sum::<usize>() * 3 * h)
                .map(|_| rng.gen_range(-2.0..2.0))
                .collect();
            let want = naive(&qkv, &lens, shape);
            for isa in Isa::available() {
                for parallel in [false, true] {
                    let got = attend(isa, &qkv, &lens, shape, parallel);
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - w).abs() < 1e-4, "{isa:?} {lens:?}: {g} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn add_layer_norm_matches_the_definition() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let h = 20;
        let x: Vec<f32> = (0..3 * h).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let r: Vec<f32> = (0..3 * h).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let g: Vec<f32> = (0..h).map(|_| rng.gen_range(0.5..1.5)).collect();
        let b: Vec<f32> = (0..h).map(|_| rng.gen_range(-0.5..0.5)).collect();
        let mut want = vec![0f32; 3 * h];
        for row in 0..3 {
            let v: Vec<f64> = (0..h)
                .map(|i| (x[row * h + i] + r[row * h + i]) as f64)
                .collect();
            let mean = v.iter().sum::<f64>() / h as f64;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / h as f64;
            for i in 0..h {
                want[row * h + i] =
                    ((v[i] - mean) / (var + 1e-12).sqrt() * g[i] as f64 + b[i] as f64) as f32;
            }
        }
        for isa in Isa::available() {
            let mut got = x.clone();
            add_layer_norm(isa, &mut got, &r, &g, &b, 1e-12);
            for (a, w) in got.iter().zip(&want) {
                assert!((a - w).abs() < 1e-4, "{isa:?}: {a} vs {w}");
            }
        }
    }
}
