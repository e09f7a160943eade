//! Dot products of the vector search: f32 (exact scans, rescoring) and int8 (the graph walk),
//! each with a portable path and an AVX2 path chosen by [`super::isa`].
//!
//! The portable paths are written so that compilers vectorise them for the baseline target
//! (SSE2); the AVX2 paths double the width and fuse the multiply-adds, which is what the graph
//! walk spends most of its time on (one int8 dot per node it meets).

use super::Isa;

/// f32 dot product on `isa`, or on the portable path when this CPU lacks it (safe for any
/// `isa`: a path is only entered on a CPU that has its instructions).
pub fn dot_on(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    match isa.or_portable() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `or_portable` keeps `Isa::Avx2Fma` and above only on a CPU with AVX2 and FMA.
        Isa::Avx2Fma | Isa::Avx512Vnni => unsafe { avx2::dot(a, b) },
        _ => dot_portable(a, b),
    }
}

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent sums: one running sum is a chain of dependent adds the compiler may not
    // reorder, so it cannot use SIMD.
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// int8 dot product on `isa` (or the portable path, as [`dot_on`]), accumulated in i32
/// (exact: 384 products of at most 127² stay far below i32's range, as do 65,536 of them).
pub fn dot_i8_on(isa: Isa, a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    match isa.or_portable() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `dot_on`.
        Isa::Avx2Fma | Isa::Avx512Vnni => unsafe { avx2::dot_i8(a, b) },
        _ => dot_i8_portable(a, b),
    }
}

fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| x as i16 as i32 * y as i16 as i32)
        .sum()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum_ps(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2")]
    unsafe fn hsum_epi32(v: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }

    /// Equal lengths (the caller cuts them).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        // Four accumulators hide the FMA latency.
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (j, s) in acc.iter_mut().enumerate() {
                let o = i + 8 * j;
                *s = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(o)), _mm256_loadu_ps(pb.add(o)), *s);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i)),
                _mm256_loadu_ps(pb.add(i)),
                acc[0],
            );
            i += 8;
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut total = hsum_ps(sum);
        while i < n {
            total += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        total
    }

    /// Equal lengths (the caller cuts them).
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        // Sign-extend 16 bytes to 16 i16, multiply pairwise and add adjacent products into i32
        // (vpmaddwd): exact, since 2 * 127² fits in i32.
        let mut acc = [_mm256_setzero_si256(); 2];
        let mut i = 0;
        while i + 32 <= n {
            for (j, s) in acc.iter_mut().enumerate() {
                let o = i + 16 * j;
                let x = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(o) as *const __m128i));
                let y = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(o) as *const __m128i));
                *s = _mm256_add_epi32(*s, _mm256_madd_epi16(x, y));
            }
            i += 32;
        }
        let mut total = hsum_epi32(_mm256_add_epi32(acc[0], acc[1]));
        while i < n {
            total += *pa.add(i) as i32 * *pb.add(i) as i32;
            i += 1;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize, f: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * f).sin()).collect()
    }

    #[test]
    fn a_path_this_cpu_lacks_runs_portable() {
        // Every path is asked for, whatever the CPU has: the safe entry points must fall back.
        let (a, b) = (wave(384, 0.37), wave(384, 0.11));
        let qa: Vec<i8> = a.iter().map(|x| (x * 127.0) as i8).collect();
        for isa in [Isa::Portable, Isa::Avx2Fma, Isa::Avx512Vnni] {
            assert!((dot_on(isa, &a, &b) - dot_portable(&a, &b)).abs() < 1e-4);
            assert_eq!(dot_i8_on(isa, &qa, &qa), dot_i8_portable(&qa, &qa));
        }
    }

    #[test]
    fn every_path_matches_the_portable_one() {
        for isa in Isa::available() {
            // Lengths around the unrolled widths, and the model's 384.
            for n in [0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 100, 384, 385] {
                let (a, b) = (wave(n, 0.37), wave(n, 0.11));
                let want = dot_portable(&a, &b);
                let got = dot_on(isa, &a, &b);
                assert!((got - want).abs() < 1e-4, "{isa:?} n={n}: {got} vs {want}");
                let qa: Vec<i8> = a.iter().map(|x| (x * 127.0) as i8).collect();
                let mut qb: Vec<i8> = b.iter().map(|x| (x * 127.0) as i8).collect();
                if let Some(first) = qb.first_mut() {
                    *first = -127;
                }
                assert_eq!(
                    dot_i8_on(isa, &qa, &qb),
                    dot_i8_portable(&qa, &qb),
                    "{isa:?} n={n}"
                );
            }
        }
    }

    #[test]
    fn int8_extremes_are_exact() {
        for isa in Isa::available() {
            let a = vec![-128i8; 384];
            let b = vec![-128i8; 384];
            assert_eq!(dot_i8_on(isa, &a, &b), 384 * 128 * 128, "{isa:?}");
            let c = vec![127i8; 384];
            assert_eq!(dot_i8_on(isa, &a, &c), -384 * 128 * 127, "{isa:?}");
        }
    }

    #[test]
    fn unequal_lengths_use_the_shorter() {
        for isa in Isa::available() {
            assert_eq!(dot_on(isa, &[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
            assert_eq!(dot_i8_on(isa, &[1, 2, 3], &[1, 1]), 3);
        }
    }
}
