//! The `semsearch` binary: parse the command line, run it, report errors with their causes.

mod cli;

use clap::Parser;

// The encoder allocates and frees large activation buffers every layer; glibc returns them to the
// kernel and pays page faults again, mimalloc keeps them (measured: see scripts/bench-embed.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tantivy=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = cli::run(cli::Cli::parse()) {
        eprint!("error: {err}");
        for cause in err.chain().skip(1) {
            eprint!(": {cause}");
        }
        eprintln!();
        std::process::exit(1);
    }
}
