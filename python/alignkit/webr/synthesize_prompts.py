"""Prompt templates of the WebR synthesis stages (written for alignkit).

Every template is a plain `str.format` string; the builders below fill them. Placeholders:
`{page}` (web page text), `{author}` (inferred author profile), `{limit}` (word limit of the
request, 50-200), `{word}` (what the request is called: request, instruction or question),
`{request}`, `{draft}`.

The request stages follow the WebR paper: every request follows the author profile, stays
within its word limit, and is detailed and specific; a Web-as-Instruction request names the
constraints of the transformed text, a Web-as-Response request names the style, format and
structure of the answer the page (or one part of it) would be.
"""

from __future__ import annotations

AUTHOR_PROFILE = """\
Read the web page below and work out who most likely wrote it: a person or an organisation, \
their occupation or field, their expertise, the audience they write for and their tone.

<page>
{page}
</page>

Describe that author in one profile of no more than 30 words. Output the profile only, with no \
introduction or explanation."""

_INSTRUCTION_RULES = """\
The {word} must:
- be written the way the author described above would write it, matching their background, \
interests and tone;
- depend on the page: it asks for something to be done with this text, not a stand-alone task;
- spell out detailed and specific constraints on the result: its length in words, sentences or \
paragraphs, its style and tone, its format and its structure (for example a word count, a \
list of sections, a table, a target reader, a register);
- never contain the word "rewrite" or the phrase "new version"{extra_banned}: describe the \
transformation you want in other terms (adapt, turn into, condense, restructure, present as, \
...);
- not copy the page text; it will be shown next to your {word};
- be at most {limit} words long.

Output the {word} only, without quotes, labels or commentary."""

INSTRUCTION_WHOLE = (
    """\
Below is a web page and a short profile of its author. Imagine you are this author, using an \
AI assistant, and write one {word} that asks the assistant to turn the entire page into a \
different piece of writing.

Author profile: {author}

<page>
{page}
</page>

"""
    + _INSTRUCTION_RULES
)

INSTRUCTION_PART = (
    """\
Below is a web page and a short profile of its author. Imagine you are this author, using an \
AI assistant. Choose one specific part of the page (a paragraph, a list, a claim, a set of \
figures) rather than its overall content, and write one {word} that asks the assistant to turn \
only that part into a different piece of writing. Make clear in the {word} which part it \
concerns.

Author profile: {author}

<page>
{page}
</page>

"""
    + _INSTRUCTION_RULES
)

_RESPONSE_RULES = """\
The {word} must:
- be written the way the author described above would write it, matching their background, \
interests and tone;
- be detailed and specific: name the topic and say what style, format and structure the \
answer should have (the page's own style, format and structure: for example a step-by-step \
guide, a list, a short essay, a table, a formal or casual register);
- be clear and concise, and make sense on its own: the user sees no page, so do not mention a \
web page, an article or a text;
- be at most {limit} words long.

Output the {word} only, without quotes, labels or commentary."""

RESPONSE_WHOLE = (
    """\
Below is a web page and a short profile of its author. Imagine you are this author, using an \
AI assistant, and suppose the whole page had been written as the assistant's reply. Write the \
most likely {word} you sent, to which this page would be an excellent answer.

Author profile: {author}

<page>
{page}
</page>

"""
    + _RESPONSE_RULES
)

RESPONSE_PART = (
    """\
Below is a web page and a short profile of its author. Imagine you are this author, using an \
AI assistant. Pick one specific part of the page, not the page as a whole, and write the most \
likely {word} you sent, to which that part would be an excellent answer.

Author profile: {author}

<page>
{page}
</page>

"""
    + _RESPONSE_RULES
)

FORBIDDEN_REMINDER = """\
Your request used the word "rewrite" or the phrase "new version", which is not allowed. Give \
the request again, with the same intent and constraints, expressed without either of them. \
Output the request only."""

REFINE = """\
A user sent the request below to an AI assistant, and a draft answer was written. Some \
reliable information on the topic is also provided.

<request>
{request}
</request>

<draft>
{draft}
</draft>

<information>
{page}
</information>

Produce the final answer to the request. Use the provided information to correct anything \
wrong in the draft and to add the relevant facts, figures and details it lacks; keep what the \
draft already does well and follow every instruction in the request. The answer must read as a \
direct reply to the user: do not mention the draft, the provided information or a web page. \
Output the final answer only."""

# Sent as the system turn of every request by default (what the authors' GPT-4o-mini script
# sends; their Llama-3 script sends none).
SYSTEM_MESSAGE = "You are a helpful assistant."

TEMPLATES = {
    "author": AUTHOR_PROFILE,
    "instruction_whole": INSTRUCTION_WHOLE,
    "instruction_part": INSTRUCTION_PART,
    "response_whole": RESPONSE_WHOLE,
    "response_part": RESPONSE_PART,
    "reminder": FORBIDDEN_REMINDER,
    "refine": REFINE,
}


def author_prompt(page: str) -> str:
    return AUTHOR_PROFILE.format(page=page)


# What the request is called in its prompt, drawn per document ("request", "instruction", ...).
REQUEST_WORDS = {
    "instruction": ("request", "instruction"),
    "response": ("request", "question", "instruction"),
}
# Part requests must not say which mechanism chose the part.
_EXTRA_BANNED = {"instruction_part": ' or the phrase "specific part"'}


def request_prompt(category: str, page: str, author: str, limit: int, word: str = "request") -> str:
    """The request-stage prompt of a category (`instruction_whole`, ..., `response_part`)."""
    template = {
        "instruction_whole": INSTRUCTION_WHOLE,
        "instruction_part": INSTRUCTION_PART,
        "response_whole": RESPONSE_WHOLE,
        "response_part": RESPONSE_PART,
    }[category]
    return template.format(
        page=page,
        author=author,
        limit=limit,
        word=word,
        extra_banned=_EXTRA_BANNED.get(category, ""),
    )


def instruction_with_page(page: str, request: str, page_first: bool) -> str:
    """A Web-as-Instruction user turn: the page and the request, in the given order."""
    parts = (page.strip(), request.strip())
    if not page_first:
        parts = parts[::-1]
    return "\n\n".join(parts)


def refine_prompt(request: str, draft: str, page: str) -> str:
    return REFINE.format(request=request, draft=draft, page=page)
