//! candle glue for kernels candle lacks in a fast form: softmax over attention scores as a
//! custom op over [`crate::kernels::gemm::softmax_row`] (AVX2 `exp`). The GELU itself lives in
//! [`crate::kernels::activation`]; its test against candle's exact GELU is here, beside candle.

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
            out.par_chunks_mut(n)
                .for_each(crate::kernels::gemm::softmax_row);
        } else {
            out.chunks_mut(n)
                .for_each(crate::kernels::gemm::softmax_row);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::activation::gelu_scalar;
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
