//! Bytes to text: the encodings Chinese and English text files are really saved in.
//!
//! Many Chinese `.txt` files are GB18030/GBK and Taiwanese ones Big5; Windows tools write UTF-16
//! with a byte-order mark. The order of evidence is the one browsers use: a byte-order mark, then
//! what the sender declares (an HTTP `charset`, an HTML `<meta charset>`), then valid UTF-8, and
//! only then a guess from the bytes themselves (`chardetng`, Firefox's detector). Data that is not
//! text at all (NUL bytes outside UTF-16) is refused rather than decoded into garbage.

use encoding_rs::{Encoding, GB18030, GBK, UTF_8};

/// Bytes of an HTML file searched for its `<meta charset>` (the HTML standard's prescan length).
const HTML_PRESCAN_BYTES: usize = 1024;

/// Bytes looked at for NULs, the mark of binary data.
const BINARY_SNIFF_BYTES: usize = 8192;

/// Where the encoding of a text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A byte-order mark.
    Bom,
    /// The sender's `charset` or the HTML's `<meta charset>`.
    Declared,
    /// The bytes were valid UTF-8.
    Utf8,
    /// Guessed from the bytes.
    Guessed,
}

/// Decoded text and how it was read.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// The encoding's name (`UTF-8`, `gb18030`, `Big5`, `UTF-16LE`...).
    pub encoding: &'static str,
    /// How the encoding was chosen.
    pub evidence: Evidence,
    /// True when some bytes were not valid in that encoding and became U+FFFD.
    pub replaced: bool,
}

/// Why bytes could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A `charset` nobody knows.
    #[error("unknown charset {0:?}")]
    UnknownCharset(String),
    /// Bytes that are not text in any encoding.
    #[error("binary data, not text (a NUL byte at offset {0})")]
    Binary(usize),
}

/// Decodes `bytes`; `declared` is the sender's charset label (e.g. from `Content-Type`), and
/// `html` says to look for a `<meta charset>` too.
pub fn decode(bytes: &[u8], declared: Option<&str>, html: bool) -> Result<Decoded, DecodeError> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        return Ok(with(enc, &bytes[bom..], Evidence::Bom));
    }
    let declared = match declared.map(str::trim).filter(|l| !l.is_empty()) {
        Some(label) => Some(
            Encoding::for_label(label.as_bytes())
                .ok_or_else(|| DecodeError::UnknownCharset(label.chars().take(40).collect()))?,
        ),
        None if html => meta_charset(bytes),
        None => None,
    };
    if let Some(nul) = bytes.iter().take(BINARY_SNIFF_BYTES).position(|&b| b == 0) {
        // UTF-16 without a BOM is only read when declared; anything else with NULs is binary.
        if !declared.is_some_and(|e| e.output_encoding() != e) {
            return Err(DecodeError::Binary(nul));
        }
    }
    if let Some(enc) = declared {
        return Ok(with(enc, bytes, Evidence::Declared));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded {
            text: text.to_string(),
            encoding: UTF_8.name(),
            evidence: Evidence::Utf8,
            replaced: false,
        });
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    Ok(with(guess, bytes, Evidence::Guessed))
}

/// Decodes with `enc`, reading GBK as GB18030 (its superset: files labelled GBK or GB2312 often
/// hold characters only GB18030 has).
fn with(enc: &'static Encoding, bytes: &[u8], evidence: Evidence) -> Decoded {
    let enc = if enc == GBK { GB18030 } else { enc };
    let (text, replaced) = enc.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding: enc.name(),
        evidence,
        replaced,
    }
}

/// The charset an HTML file declares in its first bytes: `<meta charset="...">` or
/// `<meta http-equiv="Content-Type" content="text/html; charset=...">`. A declared UTF-16 is
/// read as UTF-8, as browsers do (a real UTF-16 file would have had a BOM).
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    static META: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    let re = META.get_or_init(|| {
        regex::bytes::Regex::new(r#"(?i)<meta\b[^>]*?charset\s*=\s*["']?\s*([a-z0-9_:.-]{1,40})"#)
            .expect("a valid pattern")
    });
    let head = &bytes[..bytes.len().min(HTML_PRESCAN_BYTES)];
    let label = re.captures(head)?.get(1)?.as_bytes();
    Encoding::for_label(label).map(|e| e.output_encoding())
}

/// The `charset` parameter of a `Content-Type` value, if any.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZH: &str = "太湖苏州辖区连续18年安全度夏，城乡居民收入稳步增长。推进长三角一体化发展，建设现代化国际大都市。";
    // Traditional characters, which Big5 holds.
    const ZH_TW: &str =
        "臺灣的國語與閩南語，學校教育與傳統文化的發展。這是一個關於經濟與環境的長篇報導。";

    #[test]
    fn utf8_is_read_as_it_is() {
        let d = decode(ZH.as_bytes(), None, false).unwrap();
        assert_eq!(
            (d.text.as_str(), d.evidence, d.replaced),
            (ZH, Evidence::Utf8, false)
        );
    }

    #[test]
    fn gbk_and_big5_are_recognised_without_a_label() {
        for (text, enc, name) in [(ZH, GBK, "gb18030"), (ZH_TW, encoding_rs::BIG5, "Big5")] {
            let (bytes, _, bad) = enc.encode(text);
            assert!(!bad);
            let d = decode(&bytes, None, false).unwrap();
            assert_eq!(d.text, text, "{name}");
            assert_eq!((d.encoding, d.evidence), (name, Evidence::Guessed));
        }
    }

    #[test]
    fn utf16_with_a_bom_and_declared_charsets() {
        let mut le = vec![0xFF, 0xFE];
        le.extend(ZH.encode_utf16().flat_map(u16::to_le_bytes));
        let d = decode(&le, None, false).unwrap();
        assert_eq!(
            (d.text.as_str(), d.encoding, d.evidence),
            (ZH, "UTF-16LE", Evidence::Bom)
        );
        let be: Vec<u8> = ZH.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let d = decode(&be, Some("utf-16be"), false).unwrap();
        assert_eq!((d.text.as_str(), d.evidence), (ZH, Evidence::Declared));
        let (gbk, _, _) = GBK.encode(ZH);
        let d = decode(&gbk, charset_of("text/plain; charset=\"GB2312\""), false).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), (ZH, "gb18030"));
        assert_eq!(
            decode(b"x", Some("klingon"), false).unwrap_err(),
            DecodeError::UnknownCharset("klingon".into())
        );
    }

    #[test]
    fn html_declares_its_charset_in_a_meta_tag() {
        let page = format!(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body><p>{ZH}</p></body></html>"
        );
        let (bytes, _, _) = GBK.encode(&page);
        let d = decode(&bytes, None, true).unwrap();
        assert_eq!(
            (d.text.as_str(), d.evidence),
            (page.as_str(), Evidence::Declared)
        );
        // The sender's label wins over the page's, and a text file's meta-like line is text.
        assert_eq!(decode(&bytes, Some("gbk"), true).unwrap().text, page);
        assert_eq!(
            decode(&bytes, None, false).unwrap().evidence,
            Evidence::Guessed
        );
    }

    #[test]
    fn binary_data_is_refused() {
        let pdfish = b"%PDF-1.7\n\x00\x01\x02binary";
        assert_eq!(
            decode(pdfish, None, false).unwrap_err(),
            DecodeError::Binary(9)
        );
        assert_eq!(
            decode(pdfish, Some("utf-8"), false).unwrap_err(),
            DecodeError::Binary(9)
        );
    }
}
