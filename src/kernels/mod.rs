//! Numeric kernels the encoder and the vector search run in their inner loops: a dot product,
//! the packed matrix multiply of the dense layers with its fused bias and GELU, softmax rows,
//! and Q4_0 dequantization. Nothing here knows about models, tensors or indexes: slices in,
//! slices out, so each kernel is tested against a plain reference on its own.
//!
//! The instruction set is chosen once per process ([`isa`]): the best the CPU has among the
//! paths compiled in, or the portable path when `SEMSEARCH_KERNELS=portable` is set (to compare
//! the two, or to rule a SIMD path out when chasing a bug). Every SIMD path is tested against
//! the portable one on the CPU that runs the tests.

pub mod activation;
pub mod attention;
pub mod gemm;
pub mod q4;
pub mod qgemm;
pub mod vector;

use std::sync::OnceLock;

/// An instruction set the kernels have a path for. Each level includes the ones before it, so a
/// kernel with no path of its own for a level runs the best lower one it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust: any CPU.
    Portable,
    /// x86-64 with AVX2 and FMA (256-bit vectors, fused multiply-add).
    Avx2Fma,
    /// AVX2/FMA plus AVX-512 F, BW, VL and VNNI: 512-bit vectors and the `vpdpbusd` u8 x i8
    /// dot product of the int8 dense layers (Intel since Cascade Lake, AMD since Zen 4).
    Avx512Vnni,
}

impl Isa {
    /// The best path this CPU runs, ignoring any override (detected once).
    pub fn detect() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                if has!("avx2") && has!("fma") {
                    if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni")
                    {
                        return Isa::Avx512Vnni;
                    }
                    return Isa::Avx2Fma;
                }
            }
            Isa::Portable
        })
    }

    /// This path if the CPU runs it, else the portable one: SIMD code is only ever entered on
    /// a CPU that has the instructions.
    pub fn or_portable(self) -> Isa {
        if self <= Isa::detect() {
            self
        } else {
            Isa::Portable
        }
    }

    /// Every path this CPU can run, portable first (for tests that compare them).
    pub fn available() -> Vec<Isa> {
        [Isa::Portable, Isa::Avx2Fma, Isa::Avx512Vnni]
            .into_iter()
            .filter(|&i| i <= Isa::detect())
            .collect()
    }

    /// The paths this CPU lacks (tests say which they skip).
    pub fn missing() -> Vec<Isa> {
        [Isa::Avx2Fma, Isa::Avx512Vnni]
            .into_iter()
            .filter(|&i| i > Isa::detect())
            .collect()
    }
}

/// The instruction set every kernel uses in this process, detected on first use.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| match std::env::var("SEMSEARCH_KERNELS").as_deref() {
        Ok("portable") => Isa::Portable,
        Ok("avx2") => Isa::Avx2Fma.or_portable(),
        _ => Isa::detect(),
    })
}

/// The precision of the encoder's dense layers in this process: int8 where the CPU has a SIMD
/// integer product for it (AVX-512 VNNI's `vpdpbusd`, AVX2's `vpmaddwd`), f32 on the portable
/// path; `SEMSEARCH_PRECISION=f32` or `int8` overrides it (int8 on the portable path runs slowly:
/// for comparisons only).
pub fn precision() -> gemm::Precision {
    static PRECISION: OnceLock<gemm::Precision> = OnceLock::new();
    *PRECISION.get_or_init(|| match std::env::var("SEMSEARCH_PRECISION").as_deref() {
        Ok("f32") => gemm::Precision::F32,
        Ok("int8") => gemm::Precision::Int8,
        _ if isa() >= Isa::Avx2Fma => gemm::Precision::Int8,
        _ => gemm::Precision::F32,
    })
}

/// Dot product of two vectors (cosine for normalised ones), over the shorter length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    vector::dot_on(isa(), a, b)
}

/// Asks the CPU to bring `data` into cache (a hint; no effect where there is no instruction for
/// it).
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(data);
        let p = data.as_ptr() as *const i8;
        for off in (0..bytes).step_by(64) {
            // SAFETY: prefetch never faults, and `p + off` stays inside `data`.
            unsafe { std::arch::x86_64::_mm_prefetch(p.add(off), std::arch::x86_64::_MM_HINT_T0) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// Quantizes a vector to int8 with one scale: `x ≈ q * scale`, `scale = max|x| / 127`.
pub fn quantize_i8(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    out.extend(
        v.iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

/// Dot product of two int8 vectors, accumulated in i32 (exact), over the shorter length.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    vector::dot_i8_on(isa(), a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-5);
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn int8_dot_approximates_the_float_dot() {
        let a: Vec<f32> = (0..384).map(|i| (i as f32 * 0.37).sin() / 14.0).collect();
        let b: Vec<f32> = (0..384).map(|i| (i as f32 * 0.11).cos() / 14.0).collect();
        let (mut qa, mut qb) = (Vec::new(), Vec::new());
        let (sa, sb) = (quantize_i8(&a, &mut qa), quantize_i8(&b, &mut qb));
        let approx = dot_i8(&qa, &qb) as f32 * sa * sb;
        assert!(
            (approx - dot(&a, &b)).abs() < 0.01,
            "{approx} vs {}",
            dot(&a, &b)
        );
        assert_eq!(dot_i8(&[127, -127], &[127, 127]), 0);
        let mut z = Vec::new();
        assert_eq!(quantize_i8(&[0.0; 4], &mut z), 1.0);
        assert_eq!(z, [0; 4]);
    }

    #[test]
    fn portable_is_always_available() {
        assert_eq!(Isa::available()[0], Isa::Portable);
        assert!(Isa::available().contains(&isa()));
    }
}
