"""Settings: every option is a PROV4ML_* environment variable with a flag twin on ``prov4ml-run``.

Standard library only: the bootstrap reads settings before it knows whether the agent is wanted.
One table (``SETTINGS``) drives the environment parsing, the launcher's flags and the README's table,
so a new option is added in exactly one place.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable, NamedTuple

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def parse_bool(text: str) -> bool:
    """Parse a boolean switch; raise ValueError on anything that is not clearly one."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def parse_non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a finite number >= 0")
    return value


def parse_positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("expected a whole number > 0")
    return value


# What PROV4ML_DISABLE may name (tests/test_core.py checks it against the integration modules' NAMEs).
INTEGRATIONS = ("argparse", "click", "absl", "configs", "seeds", "torch.optim", "torch.data", "torch.loss",
                "torch.checkpoint", "files", "readers", "tensorboard", "accelerate", "transformers", "lightning",
                "system", "constants")


def parse_names(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def parse_integrations(text: str) -> frozenset[str]:
    """Integration names or ``*``; a misspelt one is an error, not a silent no-op."""
    names = parse_names(text)
    unknown = sorted(names - set(INTEGRATIONS) - {"*"})
    if unknown:
        raise ValueError(f"unknown integration {', '.join(unknown)}; known: {', '.join(INTEGRATIONS)}")
    return names


def parse_text(text: str) -> str:
    return text.strip()


def parse_name(text: str) -> str:
    """A run name or id: part of a folder's name and of the run's namespace IRI, so nothing that could leave
    the output folder (``../``, ``/``) or break an IRI (spaces, ``#``)."""
    name = text.strip()
    if not _NAME.fullmatch(name):
        raise ValueError("use up to 100 letters, digits, '.', '_' and '-', not starting with '.'")
    return name


_NAME = re.compile(r"(?![.])[A-Za-z0-9._-]{1,100}")


class Setting(NamedTuple):
    """One option: its attribute name, variable, flag, parser, default and help text."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    metavar: str = ""

    @property
    def env(self) -> str:
        return "PROV4ML_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        return self.parse is parse_bool


SETTINGS: tuple[Setting, ...] = (
    Setting("enable", parse_bool, False, "Record this process (the .pth and sitecustomize check it; prov4ml-run sets it)."),
    Setting("dir", parse_text, "prov4ml_runs", "Output root; each run gets a folder below it.", "DIR"),
    Setting("run_name", parse_name, "", "Run name (default: the script's name); the run folder starts with it.", "NAME"),
    Setting("run_id", parse_name, "", "Run id shared by every process of one job (default: generated and exported).", "ID"),
    Setting("disable", parse_integrations, frozenset(), "Comma list of integrations to leave off, or * for all.", "LIST"),
    Setting("quiet", parse_bool, False, "No stderr lines from the agent."),
    Setting("strict", parse_bool, False, "Re-raise the agent's own errors (for tests)."),
    Setting("journal_interval", parse_non_negative, 1.0, "Seconds between journal flushes (what a SIGKILL can lose).", "S"),
    Setting("exit_timeout", parse_non_negative, 5.0, "Seconds the final flush may take at exit.", "S"),
    Setting("buffer_size", parse_positive_int, 65536, "Per-step events held before the oldest are dropped (counted).", "N"),
    Setting("hash_max_mb", parse_non_negative, 8192.0, "Largest file hashed, in MiB; larger files are recorded unhashed.", "MB"),
    Setting("hash_budget", parse_non_negative, 300.0, "Total seconds a run may spend hashing files.", "S"),
    Setting("tensor_fingerprint", parse_bool, False, "Hash in-memory dataset tensors too."),
    Setting("system_interval", parse_non_negative, 5.0, "Seconds between system metric samples; 0 turns sampling off.", "S"),
    Setting("energy_estimate", parse_bool, False, "Estimate CPU energy when it cannot be measured (labelled as an estimate)."),
    Setting("carbon_intensity", parse_non_negative, 0.0, "Grid intensity in gCO2/kWh, to report carbon (0: none).", "G"),
    Setting("fault_inject", parse_integrations, frozenset(), "Test switch: integrations whose hooks raise.", "LIST"),
)


class Config:
    """Parsed settings; attribute per Setting.name. Problems are kept as one-line warnings."""

    def __init__(self, environ: dict[str, str] | os._Environ[str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.warnings: list[str] = []
        for setting in SETTINGS:
            setattr(self, setting.name, self._read(setting, environ))

    def _read(self, setting: Setting, environ: Any) -> Any:
        raw = environ.get(setting.env)
        if raw is None:
            return setting.default
        try:
            return setting.parse(raw)
        except ValueError as exc:
            self.warnings.append(
                f"prov4ml: ignoring {setting.env}={raw!r} ({exc}); using {show_value(setting.default)}"
            )
            return setting.default

    def integration_enabled(self, name: str) -> bool:
        disabled = self.disable  # type: ignore[attr-defined]
        return "*" not in disabled and name not in disabled


def show_value(value: Any) -> str:
    if isinstance(value, frozenset):
        return ",".join(sorted(value)) or "none"
    return repr(value)


def warn(message: str) -> None:
    """One line on the process's stderr, not on whatever the script made ``sys.stderr`` (its own log file
    must stay as it would be); never raises (stderr may be closed)."""
    stream = sys.__stderr__ or sys.stderr
    try:
        stream.write(message.rstrip("\n") + "\n")
        stream.flush()
    except Exception:
        pass
