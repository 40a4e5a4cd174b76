"""Redaction: which names hold secrets, and the hiding of their values wherever they show.

The one vocabulary of value actions (:data:`ALLOW`, :data:`REDACT`, :data:`DROP`), the secret
name matcher the filter engine asks, and the text scrubbing that the values encoder (reprs,
strings, exception messages), the trace writer (records not yet written) and its copied
sources (``files/``) all call, so a hidden text is replaced the same way everywhere.
"""
from __future__ import annotations

import fnmatch
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

#: Value actions, ordered by strictness (the secret layer takes the maximum).
ALLOW, REDACT, DROP = 0, 1, 2
VALUE_ACTIONS = {"allow": ALLOW, "redact": REDACT, "drop": DROP}
ACTION_NAMES = {ALLOW: "allow", REDACT: "redact", DROP: "drop"}
#: What stands in the trace for a hidden value or text.
REDACTED = "<redacted>"
DROPPED = "<dropped>"

DEFAULT_SECRETS = (
    "password", "passwd", "passphrase", "secret", "token", "api key", "access key",
    "private key", "signing key", "encryption key", "auth", "authorization", "oauth",
    "credential", "cred", "creds", "cookie", "session id", "session key", "csrf", "xsrf",
    "bearer", "jwt", "otp", "ssn", "cvv", "card number",
)
#: A name of two words or more that starts or ends with one of these words describes a
#: secret (its size, kind, where it lives) rather than holding it: ``max_tokens``,
#: ``token_count``, ``password_length``, ``auth_type``, ``api_key_env`` are not redacted.
DESCRIPTOR_WORDS = frozenset((
    "count", "counts", "num", "n", "nb", "max", "min", "total", "len", "length", "size",
    "limit", "type", "kind", "ttl", "timeout", "expiry", "expires", "expiration", "lifetime",
    "name", "url", "uri", "path", "file", "env", "var", "field",
))

# -- identifiers and words ------------------------------------------------------------------

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][^\W\d_A-Z])|[A-Z]?[^\W\d_A-Z]+|[A-Z]+|\d+")


def identifier_words(name: str) -> List[str]:
    """``"userAPIKey_2"`` -> ``["user", "api", "key", "2"]``: snake_case, camelCase,
    kebab-case and digit runs, lower-cased."""
    return [w.lower() for w in _WORDS.findall(name)]


def word_pattern(text: str) -> Optional[str]:
    """A word pattern ("api key", "apiKey", "API_KEY") as its joined words ("apikey")."""
    words = identifier_words(text)
    return "".join(words) if words else None


def _runs(words: Sequence[str], longest: int = 4) -> Iterable[Tuple[int, int, str]]:
    """(start, end, joined) for every run of up to ``longest`` adjacent words."""
    n = len(words)
    for i in range(n):
        joined = ""
        for j in range(i, min(n, i + longest)):
            joined += words[j]
            yield i, j, joined


def word_match(joined_patterns: Mapping[str, Any], words: Sequence[str]
                ) -> Optional[Tuple[int, int]]:
    """The first (start, end) of a run of ``words`` equal to a pattern, or to its plural."""
    for i, j, joined in _runs(words):
        if joined in joined_patterns or (joined[-1:] == "s" and joined[:-1] in joined_patterns):
            return i, j
    return None


class SecretMatcher:
    """Is this identifier a secret? Whole-word patterns, descriptor exemption, allow list."""

    def __init__(self, patterns: Iterable[str], allow: Iterable[str] = ()) -> None:
        self.patterns = [p for p in patterns]
        self._joined: Dict[str, str] = {}
        for p in self.patterns:
            joined = word_pattern(p)
            if joined:
                self._joined.setdefault(joined, p)
        self.allow = list(allow)
        self._allow_exact = {a for a in self.allow if not _has_glob(a)}
        self._allow_globs = [re.compile(fnmatch.translate(a)) for a in self.allow
                             if _has_glob(a)]

    def is_secret(self, name: str) -> bool:
        if not self._joined or not isinstance(name, str):
            return False
        if name in self._allow_exact or any(g.match(name) for g in self._allow_globs):
            return False
        words = identifier_words(name)
        if not words:
            return False
        found = word_match(self._joined, words)
        if found is None:
            return False
        if len(words) > 1:
            start, end = found
            if (start > 0 and words[0] in DESCRIPTOR_WORDS) or \
                    (end < len(words) - 1 and words[-1] in DESCRIPTOR_WORDS):
                return False
        return True


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


# -- hiding texts ---------------------------------------------------------------------------

def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` in it replaced by ``<redacted>``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_records(records: List[str], secrets: Iterable[str],
                  json_string: Any) -> None:
    """Replace each secret, as JSON escapes it (``json_string``), in the JSON ``records``."""
    for text in secrets:
        escaped = json_string(text)[1:-1]
        for i in range(len(records)):
            rec = records[i]
            if escaped in rec:
                records[i] = rec.replace(escaped, REDACTED)


def scrub_bytes(data: bytes, secrets: Iterable[str]) -> bytes:
    """``data`` (a copied source file) with each secret's UTF-8 form replaced."""
    redacted = REDACTED.encode()
    for text in secrets:
        data = data.replace(text.encode("utf-8", "backslashreplace"), redacted)
    return data
