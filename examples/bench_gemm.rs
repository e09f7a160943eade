//! The dense layers alone, f32 against int8 on this CPU's kernels, in one run: the four matrix
//! shapes of a multilingual-e5-small layer at a query's rows (17) and a passage batch's (512),
//! interleaved rounds, the median time of each. Prints one line per shape and the int8/f32
//! speed ratio (`scripts/bench-embed.sh` measures the whole encoder).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use semsearch::kernels::gemm::{Activation, PackedLinear, Precision};

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    println!(
        "kernels {:?}, {} rayon threads",
        semsearch::kernels::isa(),
        rayon::current_num_threads()
    );
    let (mut total_f32, mut total_int8) = ([0f64; 2], [0f64; 2]);
    for (si, m) in [17usize, 512].into_iter().enumerate() {
        for (name, n, k) in [
            ("qkv", 1152, 384),
            ("out", 384, 384),
            ("up", 1536, 384),
            ("down", 384, 1536),
        ] {
            let w: Vec<f32> = (0..n * k).map(|_| rng.gen_range(-0.1..0.1)).collect();
            let b: Vec<f32> = (0..n).map(|_| rng.gen_range(-0.1..0.1)).collect();
            let x: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let layers = [Precision::F32, Precision::Int8]
                .map(|p| PackedLinear::with_precision(&w, n, k, &b, Activation::None, p));
            let reps = (20_000_000 / (m * n * k)).max(1);
            let mut times = [Vec::new(), Vec::new()];
            for _ in 0..rounds {
                for (l, t) in layers.iter().zip(&mut times) {
                    let start = Instant::now();
                    for _ in 0..reps {
                        std::hint::black_box(l.forward(&x, m));
                    }
                    t.push(start.elapsed().as_secs_f64() / reps as f64);
                }
            }
            let [f, q] = times.map(|mut t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            });
            total_f32[si] += f;
            total_int8[si] += q;
            let gflops = |s: f64| 2.0 * (m * n * k) as f64 / s / 1e9;
            println!(
                "m {m:>3} {name:<4} {n:>4}x{k:<4}  f32 {:7.1} us {:6.1} GFLOP/s  int8 {:7.1} us {:6.1} GOP/s  int8 speed {:.2}x",
                f * 1e6,
                gflops(f),
                q * 1e6,
                gflops(q),
                f / q
            );
        }
    }
    for (si, m) in [17, 512].into_iter().enumerate() {
        println!(
            "m {m:>3} one layer's four matmuls: f32 {:.0} us, int8 {:.0} us, int8 speed {:.2}x",
            total_f32[si] * 1e6,
            total_int8[si] * 1e6,
            total_f32[si] / total_int8[si]
        );
    }
}
