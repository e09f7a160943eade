//! What the command line prints: results as text or the API's JSON, and progress bars.

use indicatif::{ProgressBar, ProgressStyle};
use semsearch::api;
use semsearch::engine::Hit;

/// A progress bar on stderr counting `unit`s ("passages"; empty: no unit shown).
pub fn bar(len: u64, what: &str, unit: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg:>10}} [{{bar:40}}] {{pos}}/{{len}}{unit} ({{per_sec}}, eta {{eta}})"
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Prints results: `{"results": [PASSAGE...]}` with `json`, else a numbered list.
pub fn print_hits(hits: &[Hit], json: bool) {
    if json {
        println!("{}", serde_json::json!({ "results": api::hits(hits) }));
        return;
    }
    for (i, h) in hits.iter().enumerate() {
        let p = &h.passage;
        println!(
            "{}. [relevance {:.2}, score {:.3}] {} | {} | clause {}",
            i + 1,
            h.relevance,
            h.score,
            p.id,
            p.section.as_deref().unwrap_or("-"),
            p.clause.as_deref().unwrap_or("-")
        );
        println!("   {}", p.text);
    }
}
