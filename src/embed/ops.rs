//! Element-wise kernels candle lacks in a fast form: softmax over attention scores (AVX2 `exp`
//! from `gemm.rs`), and the scalar GELU that the packed GEMM's portable path and tests use.
//! candle's `gelu_erf` calls a scalar software `erf` per element and took about 9% of encoder
//! time; this GELU uses the Abramowitz-Stegun 7.1.26 erf (absolute error below 1.5e-7, far under
//! the model's own f32/Q4 noise).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Softmax over the last dimension of a contiguous f32 tensor. candle's scalar `exp` made its
/// softmax a tenth of passage-embedding time (512-token windows: 3 M exponentials per layer).
/// Rows are split over the rayon pool only when the tensor is large: a query's scores are tiny.
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    x.apply_op1_no_bwd(&Softmax)
}

struct Softmax;

/// The f32 values of a contiguous CPU tensor, or the error a custom op `name` reports.
pub(crate) fn contiguous_f32<'a>(
    name: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{name}: f32 only");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{name}: contiguous input only");
    };
    Ok(&data[start..end])
}

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "fast-softmax"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let n = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = contiguous_f32(self.name(), storage, layout)?.to_vec();
        if out.len() >= 1 << 16 {
            out.par_chunks_mut(n).for_each(super::gemm::softmax_row);
        } else {
            out.chunks_mut(n).for_each(super::gemm::softmax_row);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[inline]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152_1,
        1.061_405_4,
    ];
    let s = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + P * x);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    s * (1.0 - poly * (-x * x).exp())
}

/// Exact-erf GELU, `0.5 x (1 + erf(x / sqrt 2))`, of one value.
#[inline]
pub fn gelu_scalar(v: f32) -> f32 {
    0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn softmax_matches_candle() {
        let v: Vec<f32> = (0..3 * 40)
            .map(|i| ((i * 37) % 101) as f32 / 7.0 - 6.0)
            .collect();
        let x = Tensor::from_vec(v, (3, 40), &Device::Cpu).unwrap();
        let a = softmax_last_dim(&x).unwrap().to_vec2::<f32>().unwrap();
        let b = candle_nn::ops::softmax_last_dim(&x)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (p, q) in a.iter().flatten().zip(b.iter().flatten()) {
            assert!((p - q).abs() < 1e-6, "{p} vs {q}");
        }
    }

    #[test]
    fn matches_candle_exact_gelu() {
        let v: Vec<f32> = (-400..400).map(|i| i as f32 / 50.0).collect();
        let x = Tensor::new(v.as_slice(), &Device::Cpu).unwrap();
        let b = x.gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        for (p, q) in v.iter().zip(&b) {
            let a = gelu_scalar(*p);
            assert!((a - q).abs() < 1e-5, "{a} vs {q}");
        }
    }
}
