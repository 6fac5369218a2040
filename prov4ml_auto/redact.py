"""Secrets never reach a file: every rule for recognising and hiding them lives here."""

from __future__ import annotations

import re
from typing import Any, Mapping

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"(key|token|secret|passw|pwd|auth|credential|cookie|session|private)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s:]+(:[^/@\s]*)?@")

ENV_ALLOWLIST_PREFIXES = ("SLURM_", "PBS_", "LSB_", "CUDA_", "NCCL_", "TORCHELASTIC_")
ENV_ALLOWLIST = frozenset({
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
    "MASTER_ADDR", "MASTER_PORT", "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG",
})


def is_secret_name(name: str) -> bool:
    """Names such as api_key, hub_token, DB_PASSWORD or auth look secret."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """Hide credentials embedded in URLs (scheme://user:pass@host)."""
    return _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + REDACTED + "@", text)


def redact_value(name: str, value: Any) -> Any:
    if is_secret_name(name):
        return REDACTED
    return redact_text(value) if isinstance(value, str) else value


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: redact_value(str(key), value) for key, value in values.items()}


def redact_argv(argv: list[str]) -> list[str]:
    """``--api-key X``, ``--token=X`` and ``password=X`` lose their values; URLs lose credentials."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next and not arg.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        name, sep, _ = arg.partition("=")
        if sep and is_secret_name(name):
            out.append(f"{name}={REDACTED}")
        elif arg.startswith("-") and is_secret_name(arg):
            out.append(arg)
            hide_next = True
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
