//! A model's calibration: the constants tuned to its cosines (the relevance curve, the dense
//! spread hybrid fusion trusts), read from `semsearch.json` in the model folder so that a second
//! model carries its own. A folder without the file gets e5-small's values, the defaults.
//!
//! ```json
//! {"relevance": {"centre": 0.032, "spread": 0.008}, "dense_spread": 0.03}
//! ```

use std::path::Path;

use serde::Deserialize;

use super::fusion::FusionParams;
use super::relevance::Curve;
use crate::error::{Error, Result};

/// The file in a model folder that holds its calibration.
pub const FILE: &str = "semsearch.json";

/// A model's calibration.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Calibration {
    /// Contrast to relevance.
    pub relevance: Curve,
    /// See [`FusionParams::dense_spread`].
    pub dense_spread: f32,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            relevance: Curve::default(),
            dense_spread: FusionParams::default().dense_spread,
        }
    }
}

impl Calibration {
    /// The calibration in `model_dir`'s [`FILE`], or the defaults when it has none.
    pub fn load(model_dir: &Path) -> Result<Self> {
        let path = model_dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::invalid(format!("reading {}: {e}", path.display()))),
        };
        let c: Calibration = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        let sound = c.relevance.spread.is_finite()
            && c.relevance.spread > 0.0
            && c.relevance.centre.is_finite()
            && c.dense_spread.is_finite()
            && c.dense_spread >= 0.0;
        if !sound {
            return Err(Error::invalid(format!(
                "{}: relevance.spread must be > 0, relevance.centre finite, dense_spread >= 0",
                path.display()
            )));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_folder_carries_its_own_calibration() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Calibration::load(dir.path()).unwrap(),
            Calibration::default()
        );
        std::fs::write(
            dir.path().join(FILE),
            r#"{"relevance": {"centre": 0.05, "spread": 0.01}}"#,
        )
        .unwrap();
        let c = Calibration::load(dir.path()).unwrap();
        assert_eq!(
            c.relevance,
            Curve {
                centre: 0.05,
                spread: 0.01
            }
        );
        assert_eq!(c.dense_spread, FusionParams::default().dense_spread);
        for bad in [
            r#"{"relevance": {"centre": 0.05, "spread": 0}}"#,
            r#"{"relevnce": {}}"#,
            "not json",
        ] {
            std::fs::write(dir.path().join(FILE), bad).unwrap();
            let err = Calibration::load(dir.path()).unwrap_err().to_string();
            assert!(err.contains(FILE), "{bad}: {err}");
        }
    }
}
