"""Post-processing of LLM output shared by every method: refusal detection and cleanup of the
preambles, labels and quotes that models put around the answer they were asked for."""

from __future__ import annotations

import re

# Typical refusals and AI self-references, in the languages the demo and the methods meet.
_REFUSAL_PATTERNS = [
    # English
    r"\bI(?:'m| am) sorry,? but I (?:can(?:'|no)t|am unable|won't|will not)",
    r"\bI (?:can(?:'|no)t|am unable to|won't be able to) (?:help|assist|comply|fulfil|provide|"
    r"create|write|do that|answer|generate|complete)",
    r"\bI apologi[sz]e,? but\b",
    r"\bas an AI\b",
    r"\bas a(?:n AI)? language model\b",
    r"\bI(?:'m| am) (?:not able|unable) to (?:help|assist|comply|fulfil)",
    # German
    r"\bes tut mir leid,? aber ich kann\b",
    r"\bals (?:eine )?KI\b",
    r"\bals (?:ein )?Sprachmodell\b",
    # French
    r"\bje suis d[ée]sol[ée]e?,? mais je ne peux pas\b",
    r"\ben tant qu'(?:IA|intelligence artificielle|assistant)\b",
    r"\ben tant que mod[èe]le de langage\b",
    # Spanish / Portuguese / Italian
    r"\blo siento,? pero no puedo\b",
    r"\bcomo (?:una )?IA\b",
    r"\bcomo (?:un )?modelo de lenguaje\b",
    r"\bdesculpe?,? mas n[ãa]o posso\b",
    r"\bmi dispiace,? ma non posso\b",
    r"\bcome (?:un )?modello (?:di|linguistico)\b",
    # Chinese / Japanese / Russian
    r"抱歉，?我(?:无法|不能)",
    r"对不起，?我(?:无法|不能)",
    r"作为(?:一个)?(?:人工智能|AI|语言模型)",
    r"申し訳(?:ありません|ございません)が",
    r"AIとして",
    r"извините,? но я не могу",
    r"как (?:ИИ|искусственный интеллект|языковая модель)",
]
_REFUSAL = re.compile("|".join(f"(?:{p})" for p in _REFUSAL_PATTERNS), re.IGNORECASE)
REFUSAL_WINDOW = 400


def is_refusal(text: str) -> bool:
    """True for typical refusals and AI self-references near the start of an answer."""
    head = text.strip()[:REFUSAL_WINDOW].replace("\u2019", "'").replace("\u2018", "'")
    return bool(_REFUSAL.search(head))


# "Sure! Here's the profile:" / "Here is a request without an introduction:" - a preamble that
# small models put before the answer even when told to output the answer only.
_PREAMBLE = re.compile(
    r"^(?:(?:sure|certainly|okay|ok)[,!.]?\s*)?here(?:'s| is| are) (?:a|an|the|my|your)\b"
    r"[^:\n]{0,80}:\s*",
    re.IGNORECASE,
)


def clean_output(text: str | None) -> str:
    """Trim whitespace, surrounding quotes, "Here's the ...:" preambles and a leading label like
    `Request:`."""
    text = _unquote((text or "").strip())
    while True:
        stripped = _PREAMBLE.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped.strip()
    text = re.sub(
        r"^(?:\*\*)?(?:request|user message|profile|answer)\s*:\s*(?:\*\*)?\s*",
        "",
        text,
        flags=re.IGNORECASE,
    )
    return _unquote(text)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def trim_words(text: str, limit: int) -> str:
    """At most `limit` words of `text` (re-joined by single spaces when cut)."""
    words = text.split()
    return text.strip() if len(words) <= limit else " ".join(words[:limit])
