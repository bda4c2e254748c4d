//! HTML to text (API contract; implementation in progress).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractMode {
    /// All visible text with block structure kept.
    Plain,
    /// Main content only (boilerplate removed). Not implemented yet: returns `Error::Unsupported`.
    Main,
}

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub mode: ExtractMode,
    /// Prefix list items with "- " (keeps lists readable in plain text).
    pub list_bullets: bool,
    /// Drop elements hidden by `hidden`, `aria-hidden="true"` or inline `display:none`.
    pub skip_hidden: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            mode: ExtractMode::Plain,
            list_bullets: true,
            skip_hidden: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub title: Option<String>,
    /// From `<html lang>` (or `<meta http-equiv="content-language">`), normalised like "en", "de-at".
    pub lang_hint: Option<String>,
}

pub fn extract_text(html: &str, opts: &ExtractOptions) -> crate::Result<Extracted> {
    todo!("{} {opts:?}", html.len())
}

/// Extract many documents in parallel (rayon); order preserved.
pub fn extract_batch(htmls: &[&str], opts: &ExtractOptions) -> Vec<crate::Result<Extracted>> {
    todo!("{} {opts:?}", htmls.len())
}
