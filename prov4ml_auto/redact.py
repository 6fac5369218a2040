"""Secrets never reach a file: every rule for recognising and hiding them lives here.

Names: a credential word anywhere in the name (DB_PASSWORD, AWS_SECRET_ACCESS_KEY, x-api-key), or a last
word that names one (hub_token, api_key, auth), so hyperparameters that merely contain such a word
(num_key_value_heads, tokenizer_name, author) are kept. Text: URL credentials (scheme://user:pass@host),
``name=value`` and ``"name": value`` pairs with a secret name (query strings, reprs, JSON, command lines)
and well-known token formats. Containers are redacted item by item (a list of strings as the command line it
may be); any other object is redacted as the text it will be written as.
"""

from __future__ import annotations

import os
import re
from typing import Any, Collection, Mapping

from prov4ml_auto.document import bounded_repr

REDACTED = "<redacted>"
_SECRET_PARTS = ("passw", "pwd", "passcode", "secret", "credential", "apikey", "privatekey", "accesskey", "cookie")
# signature: presigned URLs (S3's X-Amz-Signature); pw, tok, pin: short forms (db_pw, hf_tok)
_SECRET_LAST_WORDS = frozenset({"key", "token", "auth", "authorization", "session", "pass", "passphrase", "signature",
                                "pw", "tok", "pin"})
_SECRET_LAST_WORDS_UNLESS_NUMBER = frozenset({"tokens", "keys", "creds", "cred", "passes", "auths"})
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# The look-behinds start a match only at the start of a word: linear time on megabyte-long arguments.
_URL_CREDENTIALS = re.compile(r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s]*@")
_ASSIGNMENT = re.compile(
    r"(?<![\w.\-])(?P<key>[\"']?(?P<name>[A-Za-z_\-][\w.\-]*)[\"']?)"
    r"(?P<sep>\s*(?:=|:(?!//))\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;&)\]}]+)"
)
_SECRET_VALUE = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w\-]{20,}|hf_[A-Za-z0-9]{20,}"
    r"|sk-[\w\-]{20,}|xox[abprs]-[\w\-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|eyJ[\w\-]{10,}\.[\w\-]{10,}\.[\w\-]{10,}"
    r"|(?<=hooks\.slack\.com/services/)[\w/]+|(?<=discord\.com/api/webhooks/)[\w/\-]+)"
    r"|(?i:bearer)\s+[\w\-.~+/]{8,}=*"
)
_MAX_DEPTH = 8

ENV_ALLOWLIST_PREFIXES = ("SLURM_", "PBS_", "LSB_", "CUDA_", "NCCL_", "TORCHELASTIC_")
ENV_ALLOWLIST = frozenset({
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
    "MASTER_ADDR", "MASTER_PORT", "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG",
})


def is_secret_name(name: str) -> bool:
    """Names such as api_key, hubToken, DB_PASSWORD or auth look secret; num_key_value_heads does not."""
    compact = re.sub(r"[^a-z0-9]", "", name.lower())
    if any(part in compact for part in _SECRET_PARTS):
        return True
    words = _WORDS.findall(name)
    return bool(words) and words[-1].lower() in _SECRET_LAST_WORDS


def redact_text(text: str) -> str:
    """Hide URL credentials, secret ``name=value`` pairs and well-known token formats inside free text."""
    text = _SECRET_VALUE.sub(REDACTED, text)
    text = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
    return _ASSIGNMENT.sub(_redact_assignment, text)


def _redact_assignment(match: re.Match[str]) -> str:
    if not is_secret_name(match.group("name")):
        return match.group(0)
    return match.group("key") + match.group("sep") + REDACTED


def redact_value(name: str, value: Any, depth: int = 0) -> Any:
    """A named value: hidden whole when the name looks secret, or names secrets in the plural (``auth_tokens``,
    ``creds``) and holds more than a number (``max_tokens = 512`` is a setting); else scrubbed (``scrub``)."""
    if is_secret_name(name):
        return REDACTED
    words = _WORDS.findall(name)
    if words and words[-1].lower() in _SECRET_LAST_WORDS_UNLESS_NUMBER and not isinstance(value, (int, float)):
        return REDACTED
    return scrub(value, depth)


def scrub(value: Any, depth: int = 0) -> Any:
    """Numbers stay; strings, dicts, lists and tuples are redacted item by item (dict keys name their
    values); anything else becomes its redacted repr, since that repr is what a document would hold."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, os.PathLike) and isinstance(path := os.fspath(value), str):  # argparse's type=Path
        return redact_text(path)
    if depth < _MAX_DEPTH and isinstance(value, Mapping):
        return {key: redact_value(_key_name(key), item, depth + 1) for key, item in value.items()}
    if depth < _MAX_DEPTH and isinstance(value, (list, tuple)):
        if value and all(isinstance(item, str) for item in value):  # an argv (a launcher's remainder): pairs too
            items = redact_argv(list(value))
        else:
            items = [scrub(item, depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    return redact_text(bounded_repr(value))


def _key_name(key: Any) -> str:
    return key if isinstance(key, str) else bounded_repr(key)


def redact_mapping(values: Mapping[Any, Any]) -> dict[Any, Any]:
    """Hyperparameters, argparse namespaces, trainer arguments: one rule for every named value."""
    return {key: redact_value(_key_name(key), value) for key, value in values.items()}


def redact_argv(argv: list[str], secret_options: Collection[str] = (),
                secret_values: Collection[str] = ()) -> list[str]:
    """``--api-key X``, ``--token=X`` and ``password=X`` lose their values; URLs lose credentials. So do the
    options a parser said hold secrets (``secret_options``: ``-p X`` and ``-pX`` for ``-p/--password``), and
    the values it parsed for secret names (``secret_values``: a positional ``token`` argument)."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if arg in secret_values:
            out.append(REDACTED)
            hide_next = False
            continue
        if hide_next and not arg.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        name, sep, value = arg.partition("=")
        if sep and (is_secret_name(name) or name in secret_options or value in secret_values):
            out.append(f"{name}={REDACTED}")
        elif arg.startswith("-") and (is_secret_name(arg) or arg in secret_options):
            out.append(arg)
            hide_next = True
        elif arg[:2] in secret_options and not arg.startswith("--"):
            out.append(f"{arg[:2]}{REDACTED}")
        else:
            out.append(redact_text(arg))
    return out


def allowed_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Only scheduler, device and reproducibility settings; never anything secret-looking."""
    return {
        name: redact_text(value)
        for name, value in sorted(environ.items())
        if (name in ENV_ALLOWLIST or name.startswith(ENV_ALLOWLIST_PREFIXES)) and not is_secret_name(name)
    }
