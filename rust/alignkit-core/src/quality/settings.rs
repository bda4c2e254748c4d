//! Quality settings by name, as config files and Python keyword arguments give them: overrides
//! of the defaults, each checked on its own so an error names the setting.

use serde_json::{Map, Value};

use super::QualityConfig;
use crate::{Error, Result};

impl QualityConfig {
    /// The setting names (the field names of the struct).
    pub fn setting_names() -> Vec<String> {
        match serde_json::to_value(QualityConfig::default()) {
            Ok(Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Defaults with `settings` applied (`null` or an empty list turns a filter off), validated.
    /// Unknown names and values of the wrong type are errors naming the setting.
    pub fn from_settings(settings: &Map<String, Value>) -> Result<Self> {
        let known = Self::setting_names();
        let mut unknown: Vec<&str> = settings
            .keys()
            .filter(|name| !known.contains(name))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(Error::InvalidArgument(format!(
                "unknown quality setting(s): {}",
                unknown.join(", ")
            )));
        }
        for (name, value) in settings {
            let alone = Map::from_iter([(name.clone(), value.clone())]);
            serde_json::from_value::<QualityConfig>(Value::Object(alone))
                .map_err(|e| Error::InvalidArgument(format!("quality setting {name}: {e}")))?;
        }
        // Missing fields take the defaults (`#[serde(default)]`).
        let cfg: QualityConfig = serde_json::from_value(Value::Object(settings.clone()))
            .map_err(|e| Error::InvalidArgument(format!("quality settings: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn empty_settings_are_the_defaults() {
        let cfg = QualityConfig::from_settings(&Map::new()).unwrap();
        assert_eq!(cfg, QualityConfig::default());
        assert!(QualityConfig::setting_names().contains(&"min_words".to_string()));
    }

    #[test]
    fn overrides_apply_and_null_disables() {
        let cfg = QualityConfig::from_settings(&settings(json!({
            "min_words": null,
            "min_line_words": 3,
            "min_mean_word_length": 2,
            "max_top_ngram_char_fraction": [[2, 0.1]],
            "boilerplate_markers": [],
            "scrub_pii": true,
        })))
        .unwrap();
        assert_eq!(cfg.min_words, None);
        assert_eq!(cfg.min_line_words, Some(3));
        assert_eq!(cfg.min_mean_word_length, Some(2.0));
        assert_eq!(cfg.max_top_ngram_char_fraction, vec![(2, 0.1)]);
        assert!(cfg.boilerplate_markers.is_empty());
        assert!(cfg.scrub_pii);
        assert_eq!(cfg.max_words, QualityConfig::default().max_words);
    }

    #[test]
    fn unknown_names_wrong_types_and_bad_values_are_named() {
        let err = |v: Value| {
            QualityConfig::from_settings(&settings(v))
                .unwrap_err()
                .to_string()
        };
        assert!(err(json!({"min_wrds": 3, "zzz": 1}))
            .contains("unknown quality setting(s): min_wrds, zzz"));
        let wrong = err(json!({"min_words": "fifty"}));
        assert!(wrong.contains("quality setting min_words"), "{wrong}");
        assert!(err(json!({"scrub_pii": 1})).contains("quality setting scrub_pii"));
        assert!(err(json!({"min_alpha_word_fraction": 1.5})).contains("min_alpha_word_fraction"));
    }
}
