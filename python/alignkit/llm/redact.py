"""Credentials out of everything that is recorded: backend specs, URLs, error messages.

A key can ride in a backend spec's URL as userinfo (`openai:M@https://user:KEY@host/v1`, which
the openai backend sends as Basic auth) or as a query parameter (`...?api_key=KEY`, sent as is).
Whatever the LLM layer writes (cache rows, errors, reprs, logs) and whatever a stage records
(`stats.json`, configs) should pass through `redact_spec` / `redact_url` / `redact_text`, which
replace such values by `***` and never raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

REDACTED = "***"

# Query/fragment parameter names whose values are credentials (api_key, key, token,
# access_token, client_secret, password, auth, sig, X-Amz-Credential, ...).
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|sig|credential|session", re.IGNORECASE)
# A URL, less trailing punctuation of the sentence around it.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:!?)\]}]", re.IGNORECASE)
# Where one URL ends and the next begins in a comma-separated list (a pool's backend spec).
_NEXT_URL = re.compile(r",(?=[a-z][a-z0-9+.-]*://)", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=:-]{4,}", re.IGNORECASE)
# `Authorization: Basic abc=`, `"authorization": "Bearer x"`: the value, scheme and all.
_AUTH_HEADER = re.compile(
    r"(\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+(\s+[^\s\"',}]+)?", re.IGNORECASE
)
# Provider API keys by their usual prefixes (OpenAI sk-, Hugging Face hf_, ...).
_KEY_LIKE = re.compile(r"\b(sk-|sk_|hf_|gsk_|xai-)[A-Za-z0-9_-]{12,}")


def _redact_params(params: str) -> str:
    out = []
    for pair in params.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and _SECRET_NAME.search(unquote_plus(name)):
            pair = f"{name}={REDACTED}"
        out.append(pair)
    return "&".join(out)


def redact_url(url: str) -> str:
    """`url` with its userinfo (password, or a lone user name) and the values of credential-like
    query or fragment parameters replaced by `***`; other URLs come back unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host: keep only the scheme
        return url.split("://", 1)[0] + "://" + REDACTED if "://" in url else REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{REDACTED}@{hostport}" if colon else f"{REDACTED}@{hostport}"
    query, fragment = _redact_params(parts.query), _redact_params(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def url_secrets(url: str) -> list[str]:
    """The credential values written in `url` (userinfo, credential-like query parameters), as
    they appear there and decoded, for masking them wherever they might be echoed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        found += [userinfo, *userinfo.split(":", 1)]
    for params in (parts.query, parts.fragment):
        for pair in params.split("&"):
            name, eq, value = pair.partition("=")
            if eq and value and _SECRET_NAME.search(unquote_plus(name)):
                found.append(value)
    found += [unquote_plus(value) for value in found]
    return sorted({value for value in found if value}, key=len, reverse=True)


def strip_userinfo(url: str) -> str:
    """`url` without `user:password@` (what is connected to; the credentials travel apart)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` (an error message, a log line) with every URL redacted, `Bearer`/`Basic` tokens
    and provider-style keys replaced, and each of `secrets` (known keys) masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _URL.sub(lambda m: ",".join(map(redact_url, _NEXT_URL.split(m.group(0)))), text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _KEY_LIKE.sub(lambda m: m.group(1) + REDACTED, text)


def redact_spec(spec: str) -> str:
    """A backend spec (`kind:MODEL[@URL]`) fit to record: credentials in its URL replaced by
    `***`: `openai:M@https://u:KEY@h/v1?api_key=K` -> `openai:M@https://u:***@h/v1?api_key=***`.
    A scheme-less `kind:MODEL@user:KEY@host` keeps only what follows its last `@`."""
    kind, colon, rest = spec.partition(":")
    if colon and "://" not in rest and rest.count("@") >= 2:
        spec = f"{kind}:{rest.split('@', 1)[0]}@{REDACTED}@{rest.rsplit('@', 1)[1]}"
    return redact_text(spec)
