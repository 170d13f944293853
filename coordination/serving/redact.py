"""Token secrets out of log lines: the value of any ``token=`` query parameter, and whole
credential headers."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
# Query parameters whose values are secrets (the dashboard stream's ``?token=``), matched as
# Werkzeug would read the name: percent- and plus-decoded, whatever the case.
SECRET_PARAMETERS = frozenset({"token"})
# Headers whose whole value is a credential.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

# A token's secret wherever it appears (coordination.store.tokens.PREFIX and token_urlsafe(32)):
# gunicorn quotes a malformed header line whole in its error, ``Authorization Bearer cdn_...``.
_SECRET = re.compile(r"cdn_[A-Za-z0-9_\-]{16,}")
# ``name=value`` at the start of a text or after ``?``, ``&`` or ``;``: in a request line, a
# query string, a URL (a referer). The value runs to the next ``&``, blank or quote, so that a
# fragment or a ``;`` behind it is dropped with it rather than kept.
_PAIR = re.compile(r"(?P<lead>^|[?&;])(?P<name>[^=&;?#\s\"]+)=(?P<value>[^&\s\"]*)")


def redact(text: str) -> str:
    """``text`` with the value of every secret query parameter, and anything shaped like a
    token's secret, replaced by ``[redacted]``."""
    if "cdn_" in text:
        text = _SECRET.sub(REDACTED, text)
    if "=" not in text:
        return text
    return _PAIR.sub(_pair, text)


def _pair(match: re.Match[str]) -> str:
    if unquote_plus(match["name"]).strip().lower() in SECRET_PARAMETERS:
        return f"{match['lead']}{match['name']}={REDACTED}"
    return match[0]


def is_secret_header(name: str) -> bool:
    """Whether a header (``Authorization``) or its WSGI key (``HTTP_AUTHORIZATION``) is one
    whose value is a credential."""
    name = name.lower().replace("_", "-")
    return name.removeprefix("http-") in SECRET_HEADERS
