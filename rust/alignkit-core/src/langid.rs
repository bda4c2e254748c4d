//! Offline language identification.
//!
//! Backed by the [`whatlang`] crate: a trigram model of 70 languages compiled into the binary
//! (no model file, no download at run time, no `unsafe` in our code). It first picks the
//! dominant Unicode script of the text, then ranks the languages written in that script.
//!
//! Speed: only a prefix of the document is looked at, at most [`SAMPLE_BYTES`] (2 KiB, cut back
//! to a character boundary). Web documents are long and usually in one language, and two
//! kilobytes are plenty for a trigram model (whatlang's cost grows with the text length), so the cost per document stays bounded whatever
//! its size.
//!
//! Language codes are ISO 639-1 (`"en"`, `"de"`, `"zh"`, ...). Mandarin is reported as `"zh"`,
//! Norwegian Bokmål as `"nb"`, Persian as `"fa"`. Scripts are reported by name (`"Latin"`,
//! `"Cyrillic"`, `"Han"`, `"Hiragana"`, ...).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::quality::DropReason;

/// How many bytes of a document [`detect`] looks at (the first ones).
pub const SAMPLE_BYTES: usize = 2048;

/// Fewer letters than this in the sample and [`detect`] gives up (returns `None`).
const MIN_LETTERS: usize = 3;

/// Letters of sample at which the length term of the confidence is 1 - 1/e (about 0.63); it is
/// 0.28 at 20 letters, 0.92 at 150 and above 0.99 from 300 on.
const LENGTH_SCALE: f64 = 60.0;

/// Letters a half of the sample needs to be identified on its own for the agreement term.
const MIN_HALF_LETTERS: usize = 40;

/// What [`detect`] thinks a text is written in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LangGuess {
    /// ISO 639-1 code where one exists (all 70 supported languages have one).
    pub lang: String,
    /// 0..=1: how much evidence backs the label (see [`detect`]): low for short samples, for
    /// samples whose two halves disagree (mixed languages) and for close calls between related
    /// languages (es/pt, da/nb).
    pub confidence: f64,
    /// Dominant script of the sample, e.g. `"Latin"`, `"Cyrillic"`, `"Han"`, `"Arabic"`.
    pub script: String,
}

/// The longest prefix of `text` that is at most `max` bytes and ends on a char boundary.
pub(crate) fn prefix_at_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn count_letters(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphabetic()).count()
}

/// Share of the sample's halves, among those long enough to judge alone, labelled `lang` too
/// (1 when neither half is long enough: the length term then carries the doubt).
fn halves_agreement(sample: &str, lang: whatlang::Lang) -> f64 {
    let first = prefix_at_boundary(sample, sample.len() / 2);
    let (mut judged, mut agreeing) = (0u32, 0u32);
    for half in [first, &sample[first.len()..]] {
        if count_letters(half) < MIN_HALF_LETTERS {
            continue;
        }
        judged += 1;
        agreeing += u32::from(whatlang::detect_lang(half) == Some(lang));
    }
    if judged == 0 {
        1.0
    } else {
        f64::from(agreeing) / f64::from(judged)
    }
}

/// Identify the language of `text` from its first [`SAMPLE_BYTES`] bytes.
///
/// The confidence is the product of three terms in 0..=1: whatlang's own margin between the
/// best and the second language (it saturates at 1 on all but close calls), a length term
/// `1 - exp(-letters / 60)` (few letters, little evidence), and the share of the sample's two
/// halves that get the same label on their own (mixed-language text scores about 0.5).
/// docs/quality-filters.md reports how often labels are right per confidence band.
///
/// Returns `None` for text with (almost) no letters: empty, whitespace, digits, punctuation,
/// or anything the model cannot place.
pub fn detect(text: &str) -> Option<LangGuess> {
    let sample = prefix_at_boundary(text, SAMPLE_BYTES);
    let letters = count_letters(sample);
    if letters < MIN_LETTERS {
        return None;
    }
    let info = whatlang::detect(sample)?;
    let script = info.script();
    let script_name = match script {
        whatlang::Script::Mandarin => "Han",
        ref other => other.name(),
    };
    let margin = info.confidence();
    let margin = if margin.is_finite() {
        margin.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let length = 1.0 - (-(letters as f64) / LENGTH_SCALE).exp();
    let confidence = margin * length * halves_agreement(sample, info.lang());
    Some(LangGuess {
        lang: iso639_1(info.lang()).to_string(),
        confidence: confidence.clamp(0.0, 1.0),
        script: script_name.to_string(),
    })
}

/// [`detect`] over many texts in parallel (rayon), results in input order.
pub fn detect_batch(texts: &[&str]) -> Vec<Option<LangGuess>> {
    texts.par_iter().map(|t| detect(t)).collect()
}

/// Two-letter code of a whatlang language.
fn iso639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match lang {
        Epo => "eo",
        Eng => "en",
        Rus => "ru",
        Cmn => "zh",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Ben => "bn",
        Fra => "fr",
        Deu => "de",
        Ukr => "uk",
        Kat => "ka",
        Ara => "ar",
        Hin => "hi",
        Jpn => "ja",
        Heb => "he",
        Yid => "yi",
        Pol => "pl",
        Amh => "am",
        Jav => "jv",
        Kor => "ko",
        Nob => "nb",
        Dan => "da",
        Swe => "sv",
        Fin => "fi",
        Tur => "tr",
        Nld => "nl",
        Hun => "hu",
        Ces => "cs",
        Ell => "el",
        Bul => "bg",
        Bel => "be",
        Mar => "mr",
        Kan => "kn",
        Ron => "ro",
        Slv => "sl",
        Hrv => "hr",
        Srp => "sr",
        Mkd => "mk",
        Lit => "lt",
        Lav => "lv",
        Est => "et",
        Tam => "ta",
        Vie => "vi",
        Urd => "ur",
        Tha => "th",
        Guj => "gu",
        Uzb => "uz",
        Pan => "pa",
        Aze => "az",
        Ind => "id",
        Tel => "te",
        Pes => "fa",
        Mal => "ml",
        Ori => "or",
        Mya => "my",
        Nep => "ne",
        Sin => "si",
        Khm => "km",
        Tuk => "tk",
        Aka => "ak",
        Zul => "zu",
        Sna => "sn",
        Afr => "af",
        Lat => "la",
        Slk => "sk",
        Cat => "ca",
        Tgl => "tl",
        Hye => "hy",
        Cym => "cy",
    }
}

/// Normalise a language tag to the form [`LangGuess::lang`] uses: lower case, region dropped
/// (`"en-US"` -> `"en"`), and the ISO 639-3 / 639-2 codes of common languages mapped to
/// 639-1 (`"eng"` -> `"en"`, `"deu"`/`"ger"` -> `"de"`, `"cmn"`/`"zho"` -> `"zh"`).
pub fn normalize_lang(tag: &str) -> String {
    let base = tag
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if base.len() == 3 {
        if let Some(l) = whatlang::Lang::from_code(base.as_str()) {
            return iso639_1(l).to_string();
        }
        let mapped = match base.as_str() {
            "ger" => "de",
            "fre" => "fr",
            "dut" => "nl",
            "zho" | "chi" => "zh",
            "per" | "fas" => "fa",
            "nor" => "nb",
            _ => return base,
        };
        return mapped.to_string();
    }
    base
}

/// Keep documents in some languages, with enough confidence.
///
/// `allowed` empty means any language; `min_confidence` 0 means any confidence. With both at
/// their defaults the filter never drops and only reports what [`detect`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LangFilter {
    /// Language codes to keep (ISO 639-1; `"en-GB"` and `"eng"` are normalised). Empty = all.
    pub allowed: Vec<String>,
    /// Guesses below this confidence are dropped as [`DropReason::LangLowConfidence`].
    pub min_confidence: f64,
}

impl Default for LangFilter {
    fn default() -> Self {
        LangFilter {
            allowed: Vec::new(),
            min_confidence: 0.0,
        }
    }
}

impl LangFilter {
    /// A filter keeping `allowed` languages (empty = all) with at least `min_confidence`.
    pub fn new<S: AsRef<str>>(allowed: &[S], min_confidence: f64) -> crate::Result<Self> {
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(crate::Error::InvalidArgument(format!(
                "min_confidence must be within 0..=1, got {min_confidence}"
            )));
        }
        let mut codes = Vec::with_capacity(allowed.len());
        for a in allowed {
            let code = normalize_lang(a.as_ref());
            if code.is_empty() {
                return Err(crate::Error::InvalidArgument(format!(
                    "empty language code in allowed list: {:?}",
                    a.as_ref()
                )));
            }
            codes.push(code);
        }
        Ok(LangFilter {
            allowed: codes,
            min_confidence,
        })
    }

    /// Whether this filter can drop anything at all.
    pub fn is_permissive(&self) -> bool {
        self.allowed.is_empty() && self.min_confidence <= 0.0
    }

    /// Detect the language of `text` and decide.
    ///
    /// * `Ok(Some(guess))`: kept, with the guess.
    /// * `Ok(None)`: no language could be identified and the filter is permissive (no allowed
    ///   list, no minimum confidence), so the caller may keep the document.
    /// * `Err(reason)`: [`DropReason::LangUnknown`], [`DropReason::LangLowConfidence`] or
    ///   [`DropReason::LangNotAllowed`].
    pub fn check(&self, text: &str) -> Result<Option<LangGuess>, DropReason> {
        self.judge(detect(text))
    }

    /// Same decision as [`LangFilter::check`] for a guess obtained elsewhere.
    pub fn judge(&self, guess: Option<LangGuess>) -> Result<Option<LangGuess>, DropReason> {
        let Some(guess) = guess else {
            return if self.is_permissive() {
                Ok(None)
            } else {
                Err(DropReason::LangUnknown)
            };
        };
        if guess.confidence < self.min_confidence {
            return Err(DropReason::LangLowConfidence);
        }
        if !self.allowed.is_empty() && !self.allowed.contains(&guess.lang) {
            return Err(DropReason::LangNotAllowed);
        }
        Ok(Some(guess))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sentences written for this test suite, two or three per language.
    const LABELLED: &[(&str, &str)] = &[
        ("en", "The committee will meet again next week to decide whether the new bridge should be built before the winter."),
        ("en", "My grandmother kept a small garden behind the house, where she grew tomatoes, beans and a few roses."),
        ("en", "If you want to learn a language quickly, you should speak it every day, even when you make mistakes."),
        ("de", "Der Ausschuss trifft sich nächste Woche wieder, um zu entscheiden, ob die neue Brücke noch vor dem Winter gebaut wird."),
        ("de", "Meine Großmutter hatte hinter dem Haus einen kleinen Garten, in dem sie Tomaten, Bohnen und ein paar Rosen zog."),
        ("de", "Wer eine Sprache schnell lernen möchte, sollte sie jeden Tag sprechen, auch wenn er dabei Fehler macht."),
        ("fr", "Le comité se réunira de nouveau la semaine prochaine pour décider si le nouveau pont doit être construit avant l'hiver."),
        ("fr", "Ma grand-mère avait un petit jardin derrière la maison, où elle cultivait des tomates, des haricots et quelques roses."),
        ("fr", "Si vous voulez apprendre une langue rapidement, il faut la parler tous les jours, même quand vous faites des erreurs."),
        ("es", "El comité volverá a reunirse la próxima semana para decidir si el nuevo puente debe construirse antes del invierno."),
        ("es", "Mi abuela tenía un pequeño huerto detrás de la casa, donde cultivaba tomates, judías y algunas rosas."),
        ("es", "Si quieres aprender un idioma rápidamente, tienes que hablarlo todos los días, aunque cometas errores."),
        ("it", "Il comitato si riunirà di nuovo la settimana prossima per decidere se il nuovo ponte debba essere costruito prima dell'inverno."),
        ("it", "Mia nonna aveva un piccolo orto dietro la casa, dove coltivava pomodori, fagioli e qualche rosa."),
        ("it", "Se vuoi imparare una lingua velocemente, devi parlarla ogni giorno, anche quando fai degli errori."),
        ("pt", "A comissão vai reunir-se novamente na próxima semana para decidir se a nova ponte deve ser construída antes do inverno."),
        ("pt", "A minha avó tinha uma pequena horta atrás da casa, onde cultivava tomates, feijões e algumas rosas."),
        ("pt", "Se você quer aprender uma língua rapidamente, precisa falar todos os dias, mesmo quando comete erros."),
        ("nl", "De commissie komt volgende week opnieuw bijeen om te beslissen of de nieuwe brug nog voor de winter gebouwd moet worden."),
        ("nl", "Mijn grootmoeder had een kleine tuin achter het huis, waar ze tomaten, bonen en een paar rozen kweekte."),
        ("nl", "Als je een taal snel wilt leren, moet je hem elke dag spreken, ook als je daarbij fouten maakt."),
        ("ru", "Комитет снова соберётся на следующей неделе, чтобы решить, нужно ли строить новый мост до начала зимы."),
        ("ru", "У моей бабушки был небольшой огород за домом, где она выращивала помидоры, фасоль и несколько роз."),
        ("ru", "Если вы хотите быстро выучить язык, нужно говорить на нём каждый день, даже когда вы делаете ошибки."),
        ("zh", "委员会将在下周再次开会，决定是否应该在冬天之前修建这座新桥。"),
        ("zh", "我的祖母在房子后面有一个小菜园，她在那里种西红柿、豆子和几株玫瑰。"),
        ("zh", "如果你想快速学会一门语言，就应该每天说，即使你会犯错误。"),
        ("ja", "委員会は来週もう一度集まり、新しい橋を冬の前に建設するかどうかを決める予定です。"),
        ("ja", "私の祖母は家の裏に小さな畑を持っていて、そこでトマトや豆、そして少しのバラを育てていました。"),
        ("ja", "言葉を早く覚えたいなら、間違えても毎日話すようにしたほうがいいです。"),
        ("ar", "ستجتمع اللجنة مرة أخرى الأسبوع المقبل لتقرر ما إذا كان يجب بناء الجسر الجديد قبل الشتاء."),
        ("ar", "كان لجدتي حديقة صغيرة خلف البيت، حيث كانت تزرع الطماطم والفاصوليا وبعض الورود."),
        ("ar", "إذا أردت أن تتعلم لغة بسرعة، فعليك أن تتحدثها كل يوم، حتى عندما ترتكب أخطاء."),
        ("pl", "Komisja zbierze się ponownie w przyszłym tygodniu, aby zdecydować, czy nowy most powinien zostać zbudowany przed zimą."),
        ("tr", "Komite, yeni köprünün kıştan önce inşa edilip edilmeyeceğine karar vermek için önümüzdeki hafta yeniden toplanacak."),
        ("ko", "위원회는 다음 주에 다시 모여 새 다리를 겨울 전에 지을지 결정할 것입니다."),
        ("el", "Η επιτροπή θα συνεδριάσει ξανά την επόμενη εβδομάδα για να αποφασίσει αν η νέα γέφυρα πρέπει να χτιστεί πριν από τον χειμώνα."),
        ("hi", "समिति अगले सप्ताह फिर से बैठक करेगी और तय करेगी कि नया पुल सर्दियों से पहले बनाया जाए या नहीं।"),
    ];

    #[test]
    fn accuracy_on_labelled_set() {
        let texts: Vec<&str> = LABELLED.iter().map(|(_, t)| *t).collect();
        let guesses = detect_batch(&texts);
        let mut correct = 0;
        for ((want, text), got) in LABELLED.iter().zip(&guesses) {
            let got_lang = got.as_ref().map(|g| g.lang.as_str()).unwrap_or("-");
            if got_lang == *want {
                correct += 1;
            } else {
                println!("MISS want={want} got={got_lang} text={text:?}");
            }
        }
        let acc = correct as f64 / LABELLED.len() as f64;
        println!(
            "langid accuracy: {correct}/{} = {:.1}%",
            LABELLED.len(),
            acc * 100.0
        );
        assert!(acc >= 0.9, "accuracy too low: {acc}");
    }

    #[test]
    fn scripts_and_confidence() {
        let g = detect(LABELLED[0].1).unwrap();
        assert_eq!(g.script, "Latin");
        assert!((0.0..=1.0).contains(&g.confidence));
        assert_eq!(detect(LABELLED[21].1).unwrap().script, "Cyrillic");
        assert_eq!(detect(LABELLED[24].1).unwrap().script, "Han");
    }

    #[test]
    fn confidence_is_lower_for_short_and_mixed_text() {
        let paragraph = |lang: &str| {
            LABELLED
                .iter()
                .filter(|(l, _)| *l == lang)
                .map(|(_, t)| *t)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (en, de) = (paragraph("en"), paragraph("de"));
        for clean in [&en, &de] {
            let g = detect(clean).unwrap();
            assert!(g.confidence > 0.9, "{g:?}");
        }
        // Two words: whatlang is sure of itself, but there is almost no evidence.
        let short = detect("Gift Kind").unwrap();
        assert!(short.confidence < 0.5, "{short:?}");
        // Half English, half German: whichever label wins, the halves disagree.
        let mixed = detect(&format!("{en} {de}")).unwrap();
        assert!(mixed.confidence <= 0.5, "{mixed:?}");
        // More text of one language, more confidence.
        let one = detect(LABELLED[3].1).unwrap();
        assert!(one.confidence < detect(&de).unwrap().confidence);
    }

    #[test]
    fn edge_cases_return_none() {
        assert_eq!(detect(""), None);
        assert_eq!(detect("   \n\t  \r\n "), None);
        assert_eq!(detect("1234567890 42 3.14159 2024-01-01"), None);
        assert_eq!(detect("!!! ??? ... --- ### *** ///"), None);
        assert_eq!(detect("a1"), None);
    }

    #[test]
    fn mixed_scripts_pick_the_dominant_one() {
        let text = "The Russian word привет means hello, and people use it with friends and family every day.";
        assert_eq!(detect(text).unwrap().lang, "en");
        let text =
            "Москва — столица России, крупнейший город страны. Its name in English is Moscow.";
        assert_eq!(detect(text).unwrap().lang, "ru");
    }

    #[test]
    fn garbage_does_not_panic_and_has_low_confidence_or_none() {
        let garbage: String = (0u32..2000)
            .map(|i| char::from_u32((i.wrapping_mul(2_654_435_761) % 0xD000) + 1).unwrap_or('?'))
            .collect();
        if let Some(g) = detect(&garbage) {
            assert!((0.0..=1.0).contains(&g.confidence));
        }
        let bin = "\u{0}\u{1}\u{2}\u{fffd}\u{fffd}\u{7f}\u{3}\u{fffd}";
        assert_eq!(detect(bin), None);
    }

    #[test]
    fn sample_is_cut_on_char_boundary() {
        let long = "é".repeat(SAMPLE_BYTES); // 2 bytes each
        let p = prefix_at_boundary(&long, SAMPLE_BYTES + 1);
        assert_eq!(p.len(), SAMPLE_BYTES);
        let text = format!("{} {}", "x".repeat(SAMPLE_BYTES - 1), "Привет мир");
        let _ = detect(&text);
    }

    #[test]
    fn normalize_codes() {
        assert_eq!(normalize_lang("en-US"), "en");
        assert_eq!(normalize_lang("DE"), "de");
        assert_eq!(normalize_lang("eng"), "en");
        assert_eq!(normalize_lang("ger"), "de");
        assert_eq!(normalize_lang("cmn"), "zh");
        assert_eq!(normalize_lang("zh_Hant"), "zh");
    }

    #[test]
    fn lang_filter_decisions() {
        let any = LangFilter::default();
        assert!(any.is_permissive());
        assert_eq!(any.check(""), Ok(None));
        assert_eq!(any.check(LABELLED[3].1).unwrap().unwrap().lang, "de");

        let en = LangFilter::new(&["en-GB"], 0.0).unwrap();
        assert_eq!(en.allowed, vec!["en".to_string()]);
        assert!(en.check(LABELLED[1].1).unwrap().is_some());
        assert_eq!(en.check(LABELLED[4].1), Err(DropReason::LangNotAllowed));
        assert_eq!(en.check("12345"), Err(DropReason::LangUnknown));

        let strict = LangFilter::new::<&str>(&[], 1.0).unwrap();
        let low = LangGuess {
            lang: "en".into(),
            confidence: 0.2,
            script: "Latin".into(),
        };
        assert_eq!(strict.judge(Some(low)), Err(DropReason::LangLowConfidence));

        assert!(LangFilter::new(&["en"], 1.5).is_err());
        assert!(LangFilter::new(&[""], 0.5).is_err());
        let parsed: LangFilter = serde_json::from_str(r#"{"allowed":["de"]}"#).unwrap();
        assert_eq!(parsed.min_confidence, 0.0);
    }

    #[test]
    fn batch_keeps_order() {
        let texts = [LABELLED[0].1, "", LABELLED[21].1];
        let out = detect_batch(&texts);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].as_ref().unwrap().lang, "en");
        assert!(out[1].is_none());
        assert_eq!(out[2].as_ref().unwrap().lang, "ru");
    }
}
