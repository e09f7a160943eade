//! The error body every route answers with.

use serde::Serialize;
use utoipa::ToSchema;

/// `{"error": {"code": ..., "message": ...}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Code and message.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `not_found`, `unauthorized`, `payload_too_large`, `unsupported_media_type`,
    /// `timeout`, `overloaded`, `internal`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// A serde message in a user's words: the type names of the Rust side (`usize`, `f32`,
/// `sequence`) become what a JSON writer knows (a whole number, a number, a list), and the
/// extractor's preamble goes. The field path serde gives stays in front.
pub fn plain_serde(message: &str) -> String {
    const PREAMBLES: [&str; 3] = [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to deserialize query string: ",
        "Failed to parse the request body as JSON: ",
    ];
    let mut m = message;
    for p in PREAMBLES {
        m = m.strip_prefix(p).unwrap_or(m);
    }
    const WORDS: [(&str, &str); 14] = [
        ("invalid digit found in string", "expected a whole number"),
        (
            "cannot parse integer from empty string",
            "expected a whole number",
        ),
        ("number too large to fit in target type", "number too large"),
        ("invalid float literal", "expected a number"),
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        ("expected a string", "expected a string"),
        ("invalid type: sequence", "got a list"),
        ("invalid type: map", "got an object"),
        ("expected a sequence", "expected a list"),
        ("expected a boolean", "expected true or false"),
    ];
    let mut out = m.to_string();
    for (from, to) in WORDS {
        out = out.replace(from, to);
    }
    out.replace("invalid type: ", "got ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_messages_in_plain_words() {
        use super::plain_serde as p;
        assert_eq!(
            p("Failed to deserialize query string: k: invalid digit found in string"),
            "k: expected a whole number"
        );
        assert_eq!(
            p(
                "Failed to deserialize the JSON body into the target type: k: invalid type: \
               string \"ten\", expected usize at line 1 column 20"
            ),
            "k: got string \"ten\", expected a whole number at line 1 column 20"
        );
        assert_eq!(
            p("unknown field `top_k`, expected one of `query`, `k`"),
            "unknown field `top_k`, expected one of `query`, `k`"
        );
    }
}
