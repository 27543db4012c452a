"""Service URLs as safe to show in an error or a log line: never a password.

A URL is shown as the client library that uses it understands it, rebuilt from the parameters that
library parses out of it (libpq, through psycopg, for ``postgresql://``; redis-py for ``redis://``,
``rediss://`` and ``unix://``), with the password left out. Parsing the text separately would miss
what the client reads differently: libpq accepts a ``?`` or ``#`` in a password that a URL parser
takes for the start of the query. A URL the client cannot parse is shown with everything between
``://`` and its last ``@`` masked. Last, no password any parser found may appear in what is shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
import redis.connection
from psycopg.conninfo import conninfo_to_dict

__all__ = ["MASK", "shown_url"]

MASK = "***"
# redis-py's own reading of a URL (Redis.from_url uses it); untyped in redis-py, typed here
_PARSE_REDIS_URL: Callable[[str], dict[str, Any]] = redis.connection.parse_url
_GUARDED_MIN_CHARS = 4
_SECRET_KEYS = ("password", "sslpassword")
_KEYWORD_SECRET = re.compile(r"(?i)\b((?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|\S*)")


def shown_url(url: str) -> str:
    """``url`` without its password (see the module's docstring)."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres") or "://" not in url:
        shown, secrets = _postgres(url)
    elif scheme in ("redis", "rediss", "unix"):
        shown, secrets = _redis(url)
    else:
        shown, secrets = _masked(url), set()
    secrets |= _textual_secrets(url)
    if any(secret in shown for secret in secrets if len(secret) >= _GUARDED_MIN_CHARS):
        return f"{scheme or 'url'}://{MASK}"
    return shown


def _postgres(url: str) -> tuple[str, set[str]]:
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return _masked(url), set()
    secrets = {str(params.pop(key)) for key in _SECRET_KEYS if params.get(key)}
    user = str(params.pop("user", "") or "")
    host = str(params.pop("host", "") or "")
    port = str(params.pop("port", "") or "")
    dbname = str(params.pop("dbname", "") or "")
    auth = f"{quote(user, safe='')}:{MASK}@" if secrets and user else (f"{MASK}@" if secrets else "")
    if user and not secrets:
        auth = f"{quote(user, safe='')}@"
    netloc = host if "/" not in host else ""  # a socket directory goes in the query, as libpq reads it
    query = {**({"host": host} if netloc != host else {}), **{k: str(v) for k, v in params.items()}}
    shown = f"postgresql://{auth}{netloc}{':' + port if port else ''}/{dbname}"
    if query:
        shown += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return shown, secrets


def _redis(url: str) -> tuple[str, set[str]]:
    try:
        params = _PARSE_REDIS_URL(url)
    except (ValueError, TypeError):
        return _masked(url), set()
    secret = params.get("password")
    secrets = {str(secret)} if secret else set()
    auth = f"{params.get('username') or ''}:{MASK}@" if secret else ""
    scheme = urlsplit(url).scheme
    if params.get("path"):
        return f"unix://{auth}{params['path']}", secrets
    port = f":{params['port']}" if params.get("port") else ""
    return f"{scheme}://{auth}{params.get('host', '')}{port}/{params.get('db', 0)}", secrets


def _masked(url: str) -> str:
    """Everything between ``://`` and the last ``@`` masked (keyword DSNs: the password values)."""
    if "://" not in url:
        return _KEYWORD_SECRET.sub(rf"\1{MASK}", url)
    scheme, _, rest = url.partition("://")
    at = rest.rfind("@")
    return f"{scheme}://{MASK}{rest[at:]}" if at >= 0 else f"{scheme}://{rest}"


def _textual_secrets(url: str) -> set[str]:
    """Password candidates as a plain reading of the text finds them, raw and percent-decoded."""
    found: set[str] = set()
    rest = url.partition("://")[2]
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at]:
        raw = rest[:at].partition(":")[2]
        found |= {raw, unquote(raw)}
    for match in re.finditer(r"(?i)[?&](?:ssl)?password=([^&#]*)", url):
        found |= {match.group(1), unquote(match.group(1))}
    return {secret for secret in found if secret}
