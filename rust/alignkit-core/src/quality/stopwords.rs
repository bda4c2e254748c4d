//! Small stop-word lists (function words) per language, written for alignkit.
//!
//! They serve one purpose: the Gopher-style check that a document in language X contains at
//! least a couple of the most common function words of X, which catches keyword lists,
//! tables, menus and machine-generated junk. So the lists are short (about forty of the most
//! frequent words each) and lower case; matching is case-insensitive.

const EN: &[&str] = &[
    "the", "be", "to", "of", "and", "a", "an", "in", "that", "have", "has", "had", "it", "for",
    "not", "on", "with", "he", "she", "as", "you", "do", "at", "this", "but", "his", "her", "by",
    "from", "they", "we", "or", "will", "my", "would", "there", "their", "what", "so", "is", "are",
    "was", "were", "been", "which", "when", "can", "if", "into", "than", "then", "our",
];

const DE: &[&str] = &[
    "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "einen", "dem", "den", "des", "zu",
    "mit", "sich", "auf", "für", "von", "im", "es", "ich", "sie", "er", "wir", "auch", "noch",
    "wie", "aber", "oder", "wenn", "dass", "sind", "war", "wird", "werden", "hat", "haben", "bei",
    "aus", "nach", "nur", "schon", "so", "um", "man", "kann",
];

const FR: &[&str] = &[
    "le", "la", "les", "de", "des", "du", "un", "une", "et", "est", "en", "que", "qui", "dans",
    "pour", "pas", "au", "aux", "sur", "avec", "ce", "cette", "il", "elle", "ils", "nous", "vous",
    "je", "ne", "se", "par", "plus", "mais", "ou", "sont", "été", "être", "avoir", "a", "son",
    "sa", "ses", "leur", "on", "comme",
];

const ES: &[&str] = &[
    "el", "la", "los", "las", "de", "del", "y", "que", "en", "un", "una", "es", "por", "con", "no",
    "para", "se", "su", "sus", "al", "lo", "como", "más", "pero", "o", "este", "esta", "ya", "muy",
    "también", "fue", "son", "está", "ha", "le", "me", "sin", "sobre", "entre", "cuando", "todo",
    "hay",
];

const IT: &[&str] = &[
    "il", "lo", "la", "i", "gli", "le", "di", "del", "della", "e", "è", "che", "in", "un", "una",
    "uno", "per", "non", "con", "si", "da", "dei", "delle", "al", "alla", "nel", "nella", "ma",
    "come", "anche", "più", "sono", "ha", "era", "questo", "questa", "o", "se", "mi", "ci", "suo",
    "sua",
];

const PT: &[&str] = &[
    "o", "a", "os", "as", "de", "do", "da", "dos", "das", "e", "é", "que", "em", "no", "na", "um",
    "uma", "para", "com", "não", "por", "se", "mais", "como", "mas", "ao", "seu", "sua", "foi",
    "são", "ele", "ela", "isso", "este", "esta", "está", "também", "já", "muito", "nos", "pelo",
    "pela",
];

const NL: &[&str] = &[
    "de", "het", "een", "en", "van", "in", "is", "dat", "die", "op", "te", "voor", "met", "zijn",
    "niet", "aan", "er", "ook", "als", "maar", "om", "bij", "of", "wordt", "door", "naar", "was",
    "dit", "hij", "zij", "ze", "we", "wij", "je", "ik", "nog", "heeft", "hebben", "worden", "kan",
    "uit", "over",
];

/// The list for an ISO 639-1 code (already normalised: lower case, no region), if we have one.
pub fn list_for(lang: &str) -> Option<&'static [&'static str]> {
    match lang {
        "en" => Some(EN),
        "de" => Some(DE),
        "fr" => Some(FR),
        "es" => Some(ES),
        "it" => Some(IT),
        "pt" => Some(PT),
        "nl" => Some(NL),
        _ => None,
    }
}

/// Languages with a list.
pub const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "it", "pt", "nl"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_lowercase_and_unique() {
        for l in LANGUAGES {
            let list = list_for(l).unwrap();
            assert!(list.len() >= 30, "{l}");
            for (i, w) in list.iter().enumerate() {
                assert_eq!(*w, w.to_lowercase(), "{l}: {w}");
                assert!(!list[..i].contains(w), "{l}: duplicate {w}");
            }
        }
        assert!(list_for("zh").is_none());
    }
}
