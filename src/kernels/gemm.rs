//! `y = x·Wᵀ + b` for the encoder's dense layers, with `W` packed once at load time.
//!
//! candle 0.11's CPU matmul (the `gemm` crate) repacks its right-hand operand on every call and
//! reaches ~45 GFLOP/s at the shape of a 17-token query against ~110 at 512 rows; with the packing
//! it was most of a query's 30 ms. Here the weight is stored as panels of 16 output columns,
//! k-major (`[n/16][k][16]`), so the AVX2/FMA micro-kernel streams one panel through L1 while it
//! broadcasts 6 rows of `x`: 12 accumulators, 2 panel loads and 6 broadcasts per step of k, no
//! packing at run time. The bias is the accumulators' starting value and GELU is applied while
//! the tile is still in cache. Work is split over panels (and over row blocks when there are
//! many rows) with rayon. Machines without AVX2/FMA take a portable loop with the same results
//! up to rounding.

use rayon::prelude::*;

use super::{isa, Isa};

/// Output columns per panel (two 8-lane AVX registers, or one 16-lane AVX-512 register).
pub(super) const NR: usize = 16;
/// Most rows of `x` per micro-kernel call (the AVX-512 kernels: one register per row).
pub(super) const MR: usize = 12;
/// Rows per call of the AVX2 and portable f32 kernels (12 accumulators of 8 lanes).
const MR_AVX2: usize = 6;
/// Rows per parallel task when `x` is tall: keeps a block of `x` (MC·k floats) in L2.
const MC: usize = 96;

/// What to apply to the output after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Nothing.
    None,
    /// Exact-erf GELU (see [`super::activation::gelu_scalar`]).
    Gelu,
}

/// How a layer's weights are stored and multiplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 weights and activations.
    F32,
    /// int8 weights (one scale per output column) times int8 activations (one scale per row,
    /// quantized on the fly); sums in i32, bias and GELU in f32. See [`super::qgemm`].
    Int8,
}

/// The weights in the form the micro-kernels read.
enum Packed {
    /// `ceil(n/16)` panels of `k × 16`, zero-padded past `n`.
    F32(Vec<f32>),
    /// The same panels in int8, four k-steps per 32-bit lane (AVX-512 VNNI and AVX2 alike).
    Int8(super::qgemm::Panels),
}

/// A dense layer `y = act(x·Wᵀ + b)` with `W` (`[n, k]`, as stored by PyTorch) packed for the
/// micro-kernel.
pub struct PackedLinear {
    k: usize,
    n: usize,
    packed: Packed,
    bias: Vec<f32>,
    act: Activation,
    isa: Isa,
}

impl PackedLinear {
    /// Packs `w` (`n` rows of `k`, row-major) and `bias` (`n`, or empty for none) in f32.
    pub fn new(w: &[f32], n: usize, k: usize, bias: &[f32], act: Activation) -> Self {
        Self::with_precision(w, n, k, bias, act, Precision::F32)
    }

    /// Packs `w` and `bias` (as [`PackedLinear::new`]) for the given precision.
    pub fn with_precision(
        w: &[f32],
        n: usize,
        k: usize,
        bias: &[f32],
        act: Activation,
        precision: Precision,
    ) -> Self {
        assert_eq!(w.len(), n * k, "weight is not n x k");
        assert!(bias.is_empty() || bias.len() == n, "bias is not n long");
        let np = n.div_ceil(NR);
        let packed = match precision {
            Precision::F32 => {
                let mut panels = vec![0f32; np * k * NR];
                for j in 0..n {
                    let (p, c) = (j / NR, j % NR);
                    let panel = &mut panels[p * k * NR..(p + 1) * k * NR];
                    for (kk, &v) in w[j * k..(j + 1) * k].iter().enumerate() {
                        panel[kk * NR + c] = v;
                    }
                }
                Packed::F32(panels)
            }
            // Narrow weights where AVX2 is the best path: its byte product needs them.
            Precision::Int8 => {
                Packed::Int8(super::qgemm::Panels::pack(w, n, k, isa() == Isa::Avx2Fma))
            }
        };
        let mut b = vec![0f32; np * NR];
        b[..bias.len()].copy_from_slice(bias);
        PackedLinear {
            k,
            n,
            packed,
            bias: b,
            act,
            isa: isa(),
        }
    }

    /// An int8 layer with its weights packed `narrow` (±63) or full-range, whatever this CPU's
    /// best path (tests run every path on both packings).
    pub fn int8_packed(
        w: &[f32],
        n: usize,
        k: usize,
        bias: &[f32],
        act: Activation,
        narrow: bool,
    ) -> Self {
        let mut layer = Self::with_precision(w, n, k, bias, act, Precision::F32);
        layer.packed = Packed::Int8(super::qgemm::Panels::pack(w, n, k, narrow));
        layer
    }

    /// The same layer computed on another instruction set (tests compare the paths); one the
    /// CPU lacks falls back to the portable path.
    pub fn on(mut self, isa: Isa) -> Self {
        self.isa = isa.or_portable();
        self
    }

    /// How the weights are stored.
    pub fn precision(&self) -> Precision {
        match self.packed {
            Packed::F32(_) => Precision::F32,
            Packed::Int8(_) => Precision::Int8,
        }
    }

    /// Bytes the packed weights take.
    pub fn weight_bytes(&self) -> usize {
        match &self.packed {
            Packed::F32(p) => p.len() * 4,
            Packed::Int8(p) => p.bytes(),
        }
    }

    /// Input width.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output width.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Computes the layer for `x` (`m` rows of `k`, row-major), returning `m` rows of `n`,
    /// on the calling thread and, when it is large enough, on the rest of its rayon pool.
    pub fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.forward_with(x, m, true)
    }

    /// [`PackedLinear::forward`], on the calling thread only unless `parallel`.
    pub fn forward_with(&self, x: &[f32], m: usize, parallel: bool) -> Vec<f32> {
        assert_eq!(x.len(), m * self.k, "input is not m x k");
        let n = self.n;
        if m == 0 || n == 0 {
            return vec![0f32; m * n];
        }
        // Not zeroed: the tiles below write every element once (zeroing was 5% of ingest).
        let mut y: Vec<f32> = Vec::with_capacity(m * n);
        // int8 layers quantize the input once per call, not once per panel.
        let rows = match &self.packed {
            Packed::Int8(p) => Some(super::qgemm::Rows::quantize(
                self.isa,
                x,
                m,
                self.k,
                p.kp(),
                p.narrow(),
            )),
            Packed::F32(_) => None,
        };
        let np = n.div_ceil(NR);
        let blocks = m.div_ceil(MC);
        // Tasks are (row block, panel) pairs; each writes a disjoint MC x 16 tile of y. Small
        // problems stay on the calling thread: rayon's hand-off costs more than they do.
        let flops = 2 * m * n * self.k;
        let tasks = blocks * np;
        let y_addr = y.as_mut_ptr() as usize;
        let run = |t: usize| {
            let (blk, p) = (t / np, t % np);
            let r0 = blk * MC;
            let count = MC.min(m - r0);
            // SAFETY: task t writes rows r0..r0+count of columns p*16..p*16+16 only, and every
            // (blk, p) pair is run once, so no two tasks write the same element.
            unsafe { self.tile(x, rows.as_ref(), r0, count, p, y_addr as *mut f32) };
        };
        if !parallel || flops < 2_000_000 {
            (0..tasks).for_each(run);
        } else {
            (0..tasks).into_par_iter().for_each(run);
        }
        // SAFETY: the (row block, panel) tasks cover rows 0..m and columns 0..n, and each wrote
        // its tile, so all m*n elements are initialised.
        unsafe { y.set_len(m * n) };
        y
    }

    /// Rows `r0..r0+count` of panel `p`, written into `y` (row stride `n`).
    ///
    /// # Safety
    /// `y` must point to `m * n` floats, and no other thread may write this tile.
    unsafe fn tile(
        &self,
        x: &[f32],
        rows: Option<&super::qgemm::Rows>,
        r0: usize,
        count: usize,
        p: usize,
        y: *mut f32,
    ) {
        let k = self.k;
        let bias = &self.bias[p * NR..(p + 1) * NR];
        let cols = NR.min(self.n - p * NR);
        let step = match (&self.packed, self.isa) {
            (_, Isa::Avx512Vnni) => MR,
            (Packed::Int8(p), isa) => super::qgemm::micro_rows(isa, p.narrow()),
            (Packed::F32(_), _) => MR_AVX2,
        };
        let mut out = [0f32; MR * NR];
        let mut r = r0;
        while r < r0 + count {
            let mr = step.min(r0 + count - r);
            match (&self.packed, rows) {
                (Packed::Int8(panels), Some(rows)) => {
                    super::qgemm::micro(self.isa, rows, r, mr, panels, p, bias, &mut out)
                }
                (Packed::F32(panels), _) => {
                    let panel = &panels[p * k * NR..(p + 1) * k * NR];
                    micro(
                        self.isa,
                        &x[r * k..(r + mr) * k],
                        k,
                        mr,
                        panel,
                        bias,
                        &mut out,
                    )
                }
                (Packed::Int8(_), None) => unreachable!("int8 layers quantize their input"),
            }
            if self.act == Activation::Gelu {
                gelu(self.isa, &mut out[..mr * NR]);
            }
            for i in 0..mr {
                let row = &out[i * NR..i * NR + cols];
                // SAFETY: within y's bounds (row r+i < m, columns < n), disjoint per task.
                let dst = y.add((r + i) * self.n + p * NR);
                std::ptr::copy_nonoverlapping(row.as_ptr(), dst, cols);
            }
            r += mr;
        }
    }
}

/// GELU in place over a tile (a multiple of 8 values): AVX2 when the CPU has it (the scalar
/// form's libm `exp` was a tenth of a query's time).
fn gelu(isa: Isa, v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512Vnni {
        // SAFETY: `Isa::Avx512Vnni` is only ever chosen when the CPU has AVX-512 F.
        unsafe { avx512::gelu(v) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2Fma {
        // SAFETY: `Isa::Avx2Fma` and above are only ever chosen when the CPU has AVX2 and FMA.
        unsafe { avx::gelu(v) };
        return;
    }
    v.iter_mut()
        .for_each(|x| *x = super::activation::gelu_scalar(*x));
}

/// Softmax of one row in place (max subtracted first, so every exponent is <= 0).
pub fn softmax_row(row: &mut [f32]) {
    softmax_row_on(isa(), row)
}

/// [`softmax_row`] on a given instruction set (one the CPU lacks runs the portable path).
pub fn softmax_row_on(isa: Isa, row: &mut [f32]) {
    let isa = isa.or_portable();
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        // All -inf (or NaN): nothing sensible to normalise; leave uniform weights.
        let n = row.len() as f32;
        row.iter_mut().for_each(|v| *v = 1.0 / n);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2Fma {
        // SAFETY: `Isa::Avx2Fma` and above are only ever chosen when the CPU has AVX2 and FMA.
        let sum = unsafe { avx::exp_shifted(row, max) };
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|v| *v *= inv);
        return;
    }
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `out[i][c] = bias[c] + Σ_k a[i][k]·panel[k][c]` for `mr` rows (at most 12 on AVX-512, 6
/// otherwise).
fn micro(
    isa: Isa,
    a: &[f32],
    k: usize,
    mr: usize,
    panel: &[f32],
    bias: &[f32],
    out: &mut [f32; MR * NR],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512Vnni {
        // SAFETY: `Isa::Avx512Vnni` is only ever chosen when the CPU has AVX-512 F; slice sizes
        // are asserted inside.
        unsafe {
            macro_rules! rows {
                ($($r:literal)*) => {
                    match mr { $($r => avx512::micro::<$r>(a, k, panel, bias, out),)* _ => unreachable!() }
                };
            }
            rows!(1 2 3 4 5 6 7 8 9 10 11 12);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2Fma {
        // SAFETY: `Isa::Avx2Fma` and above are only ever chosen when the CPU has AVX2 and FMA;
        // slice sizes are asserted inside.
        unsafe {
            match mr {
                1 => avx::micro::<1>(a, k, panel, bias, out),
                2 => avx::micro::<2>(a, k, panel, bias, out),
                3 => avx::micro::<3>(a, k, panel, bias, out),
                4 => avx::micro::<4>(a, k, panel, bias, out),
                5 => avx::micro::<5>(a, k, panel, bias, out),
                _ => avx::micro::<6>(a, k, panel, bias, out),
            }
        }
        return;
    }
    for i in 0..mr {
        let o = &mut out[i * NR..(i + 1) * NR];
        o.copy_from_slice(bias);
        for (kk, &av) in a[i * k..(i + 1) * k].iter().enumerate() {
            for (c, v) in o.iter_mut().enumerate() {
                *v += av * panel[kk * NR + c];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(target_arch = "x86_64")]
mod avx;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn softmax_matches_the_definition() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for n in [1, 7, 8, 17, 100] {
            let row: Vec<f32> = (0..n).map(|_| rng.gen_range(-30.0..30.0)).collect();
            let max = row.iter().copied().fold(f32::MIN, f32::max) as f64;
            let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
            for isa in Isa::available() {
                let mut got = row.clone();
                softmax_row_on(isa, &mut got);
                for (g, &v) in got.iter().zip(&row) {
                    let want = (v as f64 - max).exp() / sum;
                    assert!((*g as f64 - want).abs() < 1e-6, "{isa:?}: {g} vs {want}");
                }
            }
        }
    }

    #[test]
    fn vector_gelu_matches_scalar() {
        let mut v: Vec<f32> = (-1200..1200).map(|i| i as f32 / 100.0).collect();
        v.extend([f32::MAX, f32::MIN, 1e-30, -1e-30, 0.0, 100.0, -100.0, 0.5]);
        let want: Vec<f32> = v
            .iter()
            .map(|&x| crate::kernels::activation::gelu_scalar(x))
            .collect();
        for isa in Isa::available() {
            let mut got = v.clone();
            gelu(isa, &mut got);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 2e-6 * (1.0 + w.abs()),
                    "{isa:?}: {g} vs {w}"
                );
            }
        }
    }

    fn naive(x: &[f32], m: usize, w: &[f32], n: usize, k: usize, b: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = b.get(j).copied().unwrap_or(0.0) as f64;
                for kk in 0..k {
                    s += x[i * k + kk] as f64 * w[j * k + kk] as f64;
                }
                y[i * n + j] = s as f32;
            }
        }
        y
    }

    #[test]
    fn matches_naive_on_awkward_shapes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Rows around the 6-row kernel and 96-row block edges; columns not a multiple of 16.
        for &(m, n, k) in &[
            (1, 16, 1),
            (5, 40, 3),
            (7, 33, 17),
            (13, 384, 384),
            (97, 48, 64),
            (200, 1152, 384),
        ] {
            let x: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let w: Vec<f32> = (0..n * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let want = naive(&x, m, &w, n, k, &b);
            for isa in Isa::available() {
                let layer = PackedLinear::new(&w, n, k, &b, Activation::None).on(isa);
                let got = layer.forward(&x, m);
                for (g, e) in got.iter().zip(&want) {
                    assert!(
                        (g - e).abs() < 1e-3 * (1.0 + e.abs()),
                        "{isa:?} {m}x{n}x{k}: {g} vs {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn applies_bias_then_gelu() {
        // One input of 1.0 against weights 0 and 1: outputs gelu(bias) and gelu(1 + bias).
        let w = [0.0, 1.0];
        let b = [0.5, -2.0];
        let gelu = |v: f64| 0.5 * v * (1.0 + libm_erf(v / std::f64::consts::SQRT_2));
        for isa in Isa::available() {
            let layer = PackedLinear::new(&w, 2, 1, &b, Activation::Gelu).on(isa);
            let y = layer.forward(&[1.0], 1);
            assert!((y[0] as f64 - gelu(0.5)).abs() < 1e-5, "{isa:?}");
            assert!((y[1] as f64 - gelu(-1.0)).abs() < 1e-5, "{isa:?}");
        }
    }

    /// erf by its Taylor series, exact enough for |v| < 2 in a test.
    fn libm_erf(v: f64) -> f64 {
        let mut sum = 0.0;
        let mut term = v;
        for n in 0..60 {
            sum += term / (2 * n + 1) as f64;
            term *= -v * v / (n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn empty_input_gives_empty_output() {
        let l = PackedLinear::new(&[1.0; 6], 2, 3, &[], Activation::None);
        assert!(l.forward(&[], 0).is_empty());
    }
}
