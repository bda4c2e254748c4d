"""Acceptance checks of WebR examples: what a data engineer rejects before a row is written.

Each check returns a reason (the key counted in the stage's `dropped` statistics) or None.
The checks are deliberately narrow: a pattern must match what the problem looks like, not words
that also occur in good text ("As an AI researcher at DeepMind", "I cannot help but notice").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})

# --- refusals: the output declines the task ------------------------------------------------------

_CANNOT = r"(?:can ?not|can't|won't|will not|am (?:not able|unable)|am not going)"
_DECLINE_VERBS = (
    r"(?:help|assist|comply|fulfil+|provide|create|write|generate|complete|do|answer|"
    r"produce|give|offer|share|support|engage|continue|perform|access|browse)"
)
_REFUSAL = re.compile(
    r"^(?:[\"'*]*)(?:"
    # "I'm sorry, but I can't ...", "I apologize, but I am unable ..."
    rf"(?:I(?:'m| am) (?:so |very |really )?sorry|I apologi[sz]e|sorry|unfortunately)"
    rf"[,.!]?(?: but)?,? (?:as an AI[^,.]*, )?I {_CANNOT}\b"
    # "I can't help with that", "I am unable to provide ..." (not "I cannot help but notice")
    rf"|I {_CANNOT}(?: to)? {_DECLINE_VERBS}\b(?! but\b)"
    # "As an AI language model, I cannot ..."
    rf"|as an AI(?: language model| assistant| model)?, I {_CANNOT}\b"
    r")",
    re.IGNORECASE,
)
# The original drops answers that begin with these two phrases whatever follows.
_ORIGINAL_REFUSAL = ("I'm sorry", "I apologize")


def _sentences_head(text: str, sentences: int = 2) -> list[str]:
    """The first sentences of `text`, each stripped (a refusal says so up front)."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip().translate(_APOSTROPHES))
    return [p.strip() for p in parts if p.strip()][:sentences]


# "I cannot give medical advice, but here is what helps": declines a part, answers the rest.
_BUT_ANSWERS = re.compile(
    r"\bbut (?:here|I can(?!'t| ?not)|I'd|I will(?! not)|I'll|you can)\b", re.IGNORECASE
)


def is_refusal(text: str) -> bool:
    """True when the output declines the task in its first two sentences."""
    return any(_REFUSAL.search(s) and not _BUT_ANSWERS.search(s) for s in _sentences_head(text))


def is_original_refusal(text: str) -> bool:
    """The original's rule: the response starts with "I'm sorry" or "I apologize"."""
    return text.translate(_APOSTROPHES).startswith(_ORIGINAL_REFUSAL)


# --- identity leaks: the model talks about itself ------------------------------------------------

_MODEL_NAMES = (
    r"SmolLM\w*|ChatGPT|GPT-?\d\w*|Claude|Llama(?:[- ]?\d[\w.-]*)?|Qwen\w*|Gemini|Mistral|"
    r"Phi-?\d\w*|Gemma\w*|an AI(?: (?:language )?model| assistant| chatbot)?|"
    r"a (?:large )?language model|an? (?:AI|virtual|digital) assistant|a helpful (?:AI )?assistant"
)
_IDENTITY = re.compile(
    r"\bas an? (?:AI|artificial intelligence)(?: (?:language )?model| assistant| chatbot)?\b"
    r"(?=\s*[,.;:!?)]|\s+(?:I|and I|trained|developed|created)\b)"
    r"|\bas a (?:large )?language model\b"
    rf"|\bI(?:'m| am) (?:{_MODEL_NAMES})\b"
    r"|\b(?:my|I have no|I do not have|I don't have) (?:knowledge cut-?off|training data|"
    r"personal (?:opinions|experiences|feelings|beliefs))\b"
    r"|\bI was (?:trained|created|developed|built|made) by\b",
    re.IGNORECASE,
)


def identity_leak(text: str) -> str | None:
    """The phrase in which a model speaks about being a model, or None."""
    match = _IDENTITY.search(text.translate(_APOSTROPHES))
    return match.group(0) if match else None


# --- requests ------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def word_count(text: str) -> int:
    return len(text.split())


# An answer rather than a request: an assistant opener, or the page's own voice.
_ANSWER_OPENER = re.compile(
    r"^(?:[\"'*#\s]*)(?:sure|certainly|of course|absolutely|great question|"
    r"I(?:'d| would) be (?:happy|glad)|I(?:'ll| will) (?:help|provide|write|create)|"
    r"here(?:'s| is| are)\b|as requested|below is|the (?:author|text|page|article) (?:is|was|"
    r"describes|discusses|explains))",
    re.IGNORECASE,
)
# What makes text ask for something: a question mark, or a request cue, or a sentence that starts
# with an imperative verb.
_REQUEST_CUE = re.compile(
    r"\?|\b(?:please|can you|could you|would you|will you|help me|I need|I want|I'd like|"
    r"I would like|I'm looking for|I am looking for|I'm trying|I am trying|let me know|"
    r"make sure|be sure|should (?:be|include|cover|use|have)|your (?:task|job|goal) is)\b",
    re.IGNORECASE,
)
_IMPERATIVES = frozenset(
    re.split(
        r"\s+",
        """add adapt analyse analyze arrange assess break build calculate change check choose
    clarify classify collect combine compare compile compose condense construct contrast convert
    craft create define describe design detail develop discuss draft draw edit elaborate
    emphasise emphasize enumerate estimate evaluate examine expand explain explore express extract
    focus format frame generate give highlight identify illustrate include incorporate keep limit
    list make map name note organise organize outline paraphrase pick plan prepare present
    produce propose provide put recast reformat reframe rephrase reorganise reorganize report
    restate restructure retell review revise rework say shorten show simplify sketch sort state
    structure suggest summarise summarize tell transform translate turn update use write""",
    )
)


def is_request(text: str) -> bool:
    """Whether `text` reads as a user's request (a question, a cue like "please"/"I need", or a
    sentence opening with an imperative verb), not an answer or a description."""
    stripped = text.strip()
    if not stripped or _ANSWER_OPENER.search(stripped):
        return False
    if _REQUEST_CUE.search(stripped):
        return True
    for sentence in re.split(r"(?<=[.!:;,])\s+|\n+", stripped):
        first = words(sentence)[:1]
        if first and first[0] in _IMPERATIVES:
            return True
    return False


def longest_shared_run(text: str, page: str) -> int:
    """Length in words of the longest run of consecutive words of `text` found in `page`."""
    a, b = words(text), words(page)
    if not a or not b:
        return 0
    positions: dict[str, list[int]] = {}
    for j, w in enumerate(b):
        positions.setdefault(w, []).append(j)
    best = 0
    previous: dict[int, int] = {}
    for w in a:
        current = {j: previous.get(j - 1, 0) + 1 for j in positions.get(w, ())}
        if current:
            best = max(best, max(current.values()))
        previous = current
    return best


def copied_share(text: str, page: str, n: int = 5) -> float:
    """Share of the words of `text` inside a run of at least `n` words also found in `page`."""
    a, b = words(text), words(page)
    if len(a) < n:
        return 0.0
    grams = {tuple(b[i : i + n]) for i in range(len(b) - n + 1)}
    covered = [False] * len(a)
    for i in range(len(a) - n + 1):
        if tuple(a[i : i + n]) in grams:
            covered[i : i + n] = [True] * n
    return sum(covered) / len(a)


def copies_page(text: str, page: str, max_run: int, max_share: float) -> bool:
    """Whether a request copies the page: a run of `max_run` or more page words, or more than
    `max_share` of its words inside 5-word runs of the page."""
    return longest_shared_run(text, page) >= max_run or copied_share(text, page) > max_share


# --- markup and links ----------------------------------------------------------------------------

_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|body|br|button|div|em|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|"
    r"img|input|li|link|meta|nav|ol|option|p|script|section|select|span|strong|style|table|"
    r"tbody|td|th|thead|tr|u|ul)(?:\s[^<>]*)?/?>|<!--|&(?:nbsp|amp|lt|gt|quot|#\d+);",
    re.IGNORECASE,
)


def html_markup(text: str, page: str) -> str | None:
    """The first HTML tag or entity in `text` that the page text itself does not contain."""
    for match in _HTML_TAG.finditer(text):
        if match.group(0).lower() not in page.lower():
            return match.group(0)
    return None


_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]{}\"'`]+", re.IGNORECASE)


def _url_key(url: str) -> str:
    url = url.rstrip(".,;:!?*_").lower()
    url = re.sub(r"^https?://", "", url)
    url = re.sub(r"^www\.", "", url)
    return url.rstrip("/")


def invented_urls(text: str, sources: Sequence[str]) -> list[str]:
    """URLs in `text` that appear in none of `sources` (the page text and its URL)."""
    known = {_url_key(u) for source in sources for u in _URL.findall(source)}
    known |= {_url_key(s) for s in sources if _URL.fullmatch(s.strip() or "-")}
    return [u for u in _URL.findall(text) if _url_key(u) not in known]
