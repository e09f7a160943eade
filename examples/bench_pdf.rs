//! PDF parsing cost: reads each PDF given `ROUNDS` times with semsearch's reader and prints,
//! per file, milliseconds per page and megabytes per second (best round), as one line each:
//! `file pages bytes best_ms` (for `scripts/bench-pdf.sh`, which sets pdftotext beside it).
//!
//! `cargo run --release --example bench_pdf -- ROUNDS FILE...`

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().unwrap_or_else(|| "5".into()).parse()?;
    for path in args {
        let bytes = std::fs::read(&path)?;
        let mut best = f64::MAX;
        let mut pages = 0;
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            let got = semsearch::ingest::pdf::read(&bytes)?;
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
            pages = got.pages;
        }
        println!("{path} {pages} {} {best:.3}", bytes.len());
    }
    Ok(())
}
