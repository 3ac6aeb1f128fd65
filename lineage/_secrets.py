"""Which values are secrets, by the name they are given and what they look like.

One rule for a tracked function's parameters (and a dict parameter's keys, a
config's fields, a partial's keywords: lineage._mapping) and for the command
line's flags (lineage._provenance, which adds what only text needs: a flag's
next word may not be its value, and ``512``, ``true`` or ``/run/pw`` is text
there). Both import it from here: neither imports the other for it.

A name is about a secret when one of its words is one (``password``,
``api_key``, ``githubToken``). What it is given is then hidden (``***``) but
a bool or None, and:

- a name ending with the secret (``db_password``, ``api_key``) or with a
  word holding it (``password_value``, ``token_data``) hides every value,
  a number too (``password=123456``);
- a name about a setting, a name, a place or a count of it
  (``token_pooling``, ``auth_method``, ``secret_name``, ``token_limit``,
  ``password_file``) hides only text that looks like a token or holds one
  (a URL's password, a key=value pair: see _setting_holds_secret), and
  any value not text (a user needs to see ``token_pooling="cls"`` in
  their recorded parameters; a plain Enum member is judged by its text,
  ``AuthMethod.OAUTH``, and a list, tuple or set of such values item by
  item, ``auth_scopes=["read", "write"]``);
- any other name about a secret (``secret_id``, ``auth_header``) hides
  every value but a number (``token_dropout=0.1``).
"""

from __future__ import annotations

import enum
import numbers
import os
import re
from typing import Any, Dict, List

REDACTED = "***"
# Secret names are judged word by word (snake_case, kebab-case, camelCase,
# digits), so ``max_tokens``, ``tokenizer``, ``num_passes`` or ``author`` are
# not secrets but ``db_password``, ``githubToken`` and ``apiKey`` are.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SECRET_WORDS = frozenset(
    {
        *("password", "passwd", "passphrase", "pass", "pwd", "secret", "secrets", "token"),
        *("credential", "credentials", "auth", "authorization", "cookie", "cookies", "bearer", "apikey"),
        # Plurals: api_keys=["sk-..."], passwords=[...] hold several. Not "tokens":
        # max_tokens, special_tokens, prompt_tokens are NLP's (access_tokens is a
        # pair, as is every kind of credential's plural: see _SECRET_PAIRS).
        *("passwords", "passwds", "passphrases", "pwds", "apikeys"),
    }
)
_SECRET_PAIRS = frozenset(
    {
        *(("api", "key"), ("private", "key"), ("session", "key"), ("access", "key"), ("secret", "key")),
        *(("api", "keys"), ("private", "keys"), ("session", "keys"), ("access", "keys"), ("secret", "keys")),
        *(("access", "tokens"), ("api", "tokens"), ("bearer", "tokens")),
        # "tokens" after a word naming a kind of credential: session_tokens,
        # refresh_tokens, id_tokens (OpenID), oauth_tokens, github_tokens; not
        # after an ambiguous one (user_tokens, hf_tokens may be a tokenizer's).
        *(("session", "tokens"), ("refresh", "tokens"), ("id", "tokens"), ("identity", "tokens")),
        *(("oauth", "tokens"), ("jwt", "tokens"), ("csrf", "tokens"), ("xsrf", "tokens")),
        *(("github", "tokens"), ("gitlab", "tokens")),
    }
)
_SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "credential",
    "credentials",
    "secretkey",
    "privatekey",
    "sessionkey",
    "accesstoken",
    "authtoken",
    "apitoken",
    "refreshtoken",
    "sessiontoken",
    "bearertoken",
    # and their plurals (dbpasswords, apikeys, accesstokens)
    *("passwords", "passwds", "passphrases", "secrets", "apikeys", "credentials", "secretkeys", "privatekeys"),
    *("sessionkeys", "accesstokens", "authtokens", "apitokens", "refreshtokens", "sessiontokens", "bearertokens"),
)
# ``pad_token="[PAD]"``, ``eos_token``, ``max_token``: NLP vocabulary, not secrets.
_NOT_SECRET_BEFORE_TOKEN = frozenset(
    {"pad", "eos", "bos", "unk", "sep", "cls", "mask", "special", "start", "end", "stop", "max", "min", "num", "n"}
)
# The last word of a name about a secret whose value is the secret itself, whatever it looks like.
_HOLDING_NOUNS = frozenset(
    {"value", "values", "string", "str", "text", "literal", "data", "raw", "plain", "plaintext", "content", "contents", "b64"}
)
# The last word of a name about a secret whose value is a setting, a name, a
# place or a count: --auth-method oauth, --secret-name db, --token-pooling cls.
# Not "id" (Vault's secret_id is a credential), "key", "hash" nor "header":
# a name ending with a word not here hides its value.
_SETTING_NOUNS = frozenset(
    {
        *("name", "names", "method", "methods", "type", "types", "mode", "kind", "scheme", "provider", "source", "pooling"),
        *("strategy", "policy", "format", "style", "backend", "algorithm", "algo", "level", "version", "classification"),
        *("file", "files", "path", "paths", "dir", "directory", "folder", "location", "env", "var", "variable", "field"),
        *("store", "manager", "prompt", "url", "uri", "endpoint", "host", "server", "port", "user", "username", "scope"),
        *("scopes", "audience", "issuer", "realm", "limit", "length", "len", "size", "count", "budget", "ttl", "expiry"),
        *("lifetime", "timeout", "rotation"),
    }
)
# What a name about a secret says of its value (see _kind).
_HOLDS = "holds"  # the secret itself: password, api_key, password_value
_SETTING = "setting"  # a setting, name, place or count of it: token_pooling, secret_name, token_limit
_ABOUT = "about"  # something else about it: secret_id, auth_header, token_dropout

# Values that look like a credential whatever they are given to: a known
# service's token prefix, or a long opaque string of letters and digits.
_TOKEN_PREFIXES = (
    *("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"),  # GitHub, GitLab
    *("hf_", "sk-", "xox", "AKIA", "ya29.", "npm_", "pypi-"),  # Hugging Face, OpenAI, Slack, AWS, Google, npm, PyPI
    "AIza",  # a Google API key
)
_TOKEN_REST = re.compile(r"[A-Za-z0-9_\-.]{4,}")
_OPAQUE = re.compile(r"[A-Za-z0-9_\-+=.~]{20,}")
_FILE_NAME = re.compile(r".*\.[a-z]{1,4}")
_HEX = re.compile(r"[0-9a-f]{32,}|[0-9A-F]{32,}")

_secret_names: Dict[str, bool] = {}
_kinds: Dict[str, str] = {}


def _names_a_secret(name: str) -> bool:
    words = [word.lower() for word in _WORD.findall(name)]
    previous = ""
    for word in words:
        if word in _SECRET_WORDS:
            if not (word == "token" and previous in _NOT_SECRET_BEFORE_TOKEN):
                return True
        elif (previous, word) in _SECRET_PAIRS or word.endswith(_SECRET_SUFFIXES):
            return True
        previous = word
    return False


def _is_secret(name: str) -> bool:
    """Whether *name* is about a secret (see _hides for what it then hides)."""
    secret = _secret_names.get(name)
    if secret is None:
        secret = _names_a_secret(name)
        if len(_secret_names) >= 4096:
            _secret_names.clear()
        _secret_names[name] = secret
    return secret


# Words after which a name says what its secret is for, not what it is:
# password_for_user is the password, token_limit_of_user a setting.
_FOR_WORDS = frozenset({"for", "of"})


def _named_words(name: str) -> List[str]:
    """The words of *name*, lower case, up to a "for" or "of" (see
    _FOR_WORDS), without the number that ends it (password2, token_1:
    numbered secrets; but pass_1, pass@10: a metric, pass@k, so a lone
    "pass" keeps its number; db_pass_2 is a password)."""
    words = [word.lower() for word in _WORD.findall(name)]
    cut = next((index for index, word in enumerate(words) if index and word in _FOR_WORDS), None)
    if cut is not None:
        words = words[:cut]
    named = list(words)
    while named and named[-1].isdigit():
        named.pop()
    return named if named and named != ["pass"] else words


def _ends_in_secret(name: str) -> bool:
    """Whether the name ends with the secret (``password``, ``db_password``,
    ``api_key``, ``githubToken``), rather than naming something about it
    (``token_limit``, ``pass_at_k``, ``password_min_len``)."""
    words = _named_words(name)
    if not words:
        return False
    last, previous = words[-1], (words[-2] if len(words) > 1 else "")
    if last in _SECRET_WORDS:
        return not (last == "token" and previous in _NOT_SECRET_BEFORE_TOKEN)
    if (previous, last) in _SECRET_PAIRS:
        # max_session_tokens=4096, num_id_tokens: a count of them, as max_tokens is
        # (then about a secret: a number kept, text hidden), not the tokens.
        return not (last == "tokens" and len(words) > 2 and words[-3] in _COUNT_WORDS)
    return last.endswith(_SECRET_SUFFIXES)


# Words before a kind of credential's tokens making the name a count of them.
_COUNT_WORDS = frozenset({"max", "min", "num", "n", "total"})


def _kind(name: str) -> str:
    """What a name about a secret gives (_HOLDS, _SETTING or _ABOUT), by
    its last word; cached, as _is_secret is (a tracked call's api_key)."""
    kind = _kinds.get(name)
    if kind is None:
        words = _named_words(name)
        if _ends_in_secret(name) or (words and words[-1] in _HOLDING_NOUNS):
            kind = _HOLDS
        elif words and words[-1] in _SETTING_NOUNS:
            kind = _SETTING
        else:
            kind = _ABOUT
        if len(_kinds) >= 4096:
            _kinds.clear()
        _kinds[name] = kind
    return kind


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) or (not isinstance(value, (str, bytes)) and isinstance(value, numbers.Number))


def _hides(name: Any, value: Any) -> bool:
    """Whether *value*, given under *name* (an argument, a dict key, a
    field, a flag), is recorded as ``***`` (see the module's docstring):
    under a name about a secret, as _secret_given judges it; under any
    name, a known service's token (model="hf_...", as on the command line)."""
    if type(value) is str and len(value) >= _PREFIXED_TOKEN_MIN and value.startswith(_TOKEN_PREFIXES) and _prefixed_token(value):
        return True
    return isinstance(name, str) and _is_secret(name) and _secret_given(name, value)


def _secret_given(name: str, value: Any) -> bool:
    """Whether *value*, given under *name*, which is about a secret, is one.
    A bool or None is no credential; a number is one (a PIN, a numeric
    password) only under a name holding the secret; a setting's text (or
    path: password_file=Path(...)) only when it holds one (see
    _setting_holds_secret); any other value (bytes, a list, a dict, an object) may hold the secret."""
    if value is None or isinstance(value, bool):
        return False
    kind = _kind(name)
    if kind is _HOLDS:
        return True
    if _is_number(value):
        return False
    if kind is _SETTING:
        if isinstance(value, os.PathLike):
            try:
                value = os.fspath(value)
            except Exception:  # noqa: BLE001 - a broken __fspath__: hidden, as any other object is
                return True
        elif isinstance(value, enum.Enum) and not isinstance(value, str):
            # Judged by the text it is stored as (auth_method=AuthMethod.OAUTH
            # as "AuthMethod.OAUTH"), as a str is: it was hidden, "oauth" kept.
            # An IntEnum's is a number (kept above), a StrEnum's its str.
            try:
                value = _member_text(value)
            except Exception:  # noqa: BLE001 - a broken repr of a nameless member's value: hidden
                return True
        elif isinstance(value, _SIMPLE_COLLECTIONS):
            return _collection_holds_secret(name, value)
        return not isinstance(value, str) or _setting_holds_secret(value)
    return True


#: What a setting of a secret may give as a collection judged item by item (see _collection_holds_secret).
_SIMPLE_COLLECTIONS = (list, tuple, set, frozenset)
#: A collection of more items than this, under a setting's name, is hidden unjudged (a call's cost stays bounded).
_MAX_SETTING_ITEMS = 64


def _collection_holds_secret(name: str, value: Any) -> bool:
    """Whether a list, tuple or set given under *name*, a setting of a
    secret, holds one: each item judged as it would be alone
    (auth_scopes=["read", "write"] is kept, as auth_scope="read" is; it was
    hidden whole). One holding a collection (not simple: its items are not
    judged), or more than _MAX_SETTING_ITEMS items, is hidden, as any
    object is."""
    if len(value) > _MAX_SETTING_ITEMS:
        return True
    return any(isinstance(item, _SIMPLE_COLLECTIONS) or _secret_given(name, item) for item in value)


def _member_text(value: enum.Enum) -> str:
    """The text a plain Enum member is stored as: ``Color.RED``, or
    ``Perm(0)`` for a flag of no name (lineage._mapping._as_text)."""
    kind = type(value).__name__
    name = value._name_
    return f"{kind}.{name}" if name is not None else f"{kind}({value._value_!r})"


# A URL's user (postgres://u:pw@h/db, https://<token>@github.com/...).
_URL_USER = re.compile(r"://[^/\s]*@")


def _setting_holds_secret(text: str) -> bool:
    """Whether the text of a setting of a secret holds one after all: a
    token, also as one of its words (auth_type="Bearer eyJ..."), a URL's
    user and password (auth_url="postgres://u:pw@h/db") or a key=value pair
    (token_url="https://h/x?access_token=...", secret_source="host=db
    password=..."). A parameter cannot be shown in part, as the command line
    is (postgres://u:***@h/db): hidden whole, as every text under such a
    name was before the settings were kept."""
    if "=" in text or ("://" in text and _URL_USER.search(text)):
        return True
    return _looks_like_token(text) or (" " in text and any(map(_looks_like_token, text.split())))


def _looks_like_token(value: str) -> bool:
    """Whether *value* looks like an access token rather than a word, a file
    or a number (``ghp_...``, ``hf_...``, 20 characters or more mixing upper
    and lower case letters and digits, or 32 hex digits or more)."""
    if _has_token_prefix(value):
        return True
    if not _OPAQUE.fullmatch(value) or _FILE_NAME.fullmatch(value):
        return False
    if _HEX.fullmatch(value):
        return True
    return any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)


# The shortest known service's token (AKIA + 16): a shorter value with such a
# prefix ("sk-learn", "xoxo") is a word.
_PREFIXED_TOKEN_MIN = 20


def _prefixed_token(value: str) -> bool:
    """Whether *value* is a known service's token as long as one: hidden
    wherever it is given (a positional argument, --key AIza..., ?q=hf_...,
    a parameter model="hf_..."), where a long opaque value (a commit's hash,
    a file's id) is not. Nor a file's name (hf_checkpoint_epoch10.bin): no
    such token ends with an extension, and the file was what was kept."""
    return len(value) >= _PREFIXED_TOKEN_MIN and _has_token_prefix(value) and not _FILE_NAME.fullmatch(value)


def _has_token_prefix(value: str) -> bool:
    """Whether *value* is a known service's token: its prefix, then letters and digits."""
    if not value.startswith(_TOKEN_PREFIXES):  # one C call: most values (judged per parameter of a call) stop here
        return False
    return any(value.startswith(prefix) and _TOKEN_REST.fullmatch(value[len(prefix) :]) for prefix in _TOKEN_PREFIXES)
