"""Prompt templates of the WebR synthesis stages (written for alignkit).

Every template is a plain `str.format` string; the builders below fill them. Placeholders:
`{page}` (web page text), `{author}` (inferred author profile), `{limit}` (word limit of a
rewrite-style request), `{request}`, `{draft}`.
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
The request must:
- stay grounded in what the page actually says, and sound like something the author described \
above would ask for;
- spell out detailed constraints on the result: its length, style, tone, format or structure \
(for example a word count, a list of sections, a table, a target reader, a register);
- be at most {limit} words long;
- never contain the word "rewrite" or the phrase "new version": describe the transformation \
you want in other terms (adapt, turn into, condense, restructure, present as, ...);
- not copy the page text; it will be shown next to your request.

Output the request only, without quotes, labels or commentary."""

INSTRUCTION_WHOLE = (
    """\
Below is a web page and a short profile of its author. Compose one request that asks an AI \
assistant to transform the entire page into a different piece of writing.

Author profile: {author}

<page>
{page}
</page>

"""
    + _INSTRUCTION_RULES
)

INSTRUCTION_PART = (
    """\
Below is a web page and a short profile of its author. Choose one specific part of the page \
(a paragraph, a list, a claim, a set of figures) and compose one request that asks an AI \
assistant to transform only that part into a different piece of writing. Make clear in the \
request which part it concerns.

Author profile: {author}

<page>
{page}
</page>

"""
    + _INSTRUCTION_RULES
)

RESPONSE_WHOLE = """\
Below is a web page and a short profile of its author. Suppose the whole page had been written \
as the reply of an AI assistant to a single user message. What is the most likely message - a \
question, a task or an instruction - to which this page would be an excellent answer?

Author profile: {author}

<page>
{page}
</page>

Write that user message as the user would type it. It must make sense on its own: do not \
mention a web page, an article or a text the user is looking at. Output the message only."""

RESPONSE_PART = """\
Below is a web page and a short profile of its author. Pick one specific part of the page (not \
the page as a whole) and work out the most likely user message - a question, a task or an \
instruction - to which that part would be an excellent answer from an AI assistant.

Author profile: {author}

<page>
{page}
</page>

Write that user message as the user would type it. It must make sense on its own: do not \
mention a web page, an article or a text the user is looking at. Output the message only."""

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


def request_prompt(category: str, page: str, author: str, limit: int) -> str:
    """The request-stage prompt of a category (`instruction_whole`, ..., `response_part`)."""
    template = {
        "instruction_whole": INSTRUCTION_WHOLE,
        "instruction_part": INSTRUCTION_PART,
        "response_whole": RESPONSE_WHOLE,
        "response_part": RESPONSE_PART,
    }[category]
    return template.format(page=page, author=author, limit=limit)


def instruction_with_page(page: str, request: str, page_first: bool) -> str:
    """A Web-as-Instruction user turn: the page and the request, in the given order."""
    parts = (page.strip(), request.strip())
    if not page_first:
        parts = parts[::-1]
    return "\n\n".join(parts)


def refine_prompt(request: str, draft: str, page: str) -> str:
    return REFINE.format(request=request, draft=draft, page=page)
