"""Integration registry: one module per instrumented library, patched when that library is imported.

Each integration module defines:
  NAME        the name used by PROV4ML_DISABLE and in error counts
  TARGETS     the modules whose import triggers ``patch`` (once per target)
  SUPPORTED   {target: (lowest version, first unsupported version)}; targets not listed are not checked
  HANDLERS    {event kind: fn(recorder, time, *payload)} run on the collector thread; or, for a kind sent
              once per training step, fn(recorder, events): a run of consecutive events of that kind, in one
              call (``collector.RunHandler``; mark it with ``collector.takes_runs``)
  patch(target_module, emit, emit_hot) / unpatch()
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

from prov4ml_auto import collector, faults
from prov4ml_auto.config import Config, warn
from prov4ml_auto.events import Buffer, failing_emitter
from prov4ml_auto.importhooks import when_imported

MODULES = (
    "prov4ml_auto.integrations.argparse_",
    "prov4ml_auto.integrations.click_",
    "prov4ml_auto.integrations.absl_flags",
    "prov4ml_auto.integrations.config_files",
    "prov4ml_auto.integrations.seeds",
    "prov4ml_auto.integrations.torch_optim",
    "prov4ml_auto.integrations.torch_data",
    "prov4ml_auto.integrations.torch_loss",
    "prov4ml_auto.integrations.torch_checkpoint",
    "prov4ml_auto.integrations.file_moves",
    "prov4ml_auto.integrations.data_readers",
    "prov4ml_auto.integrations.tensorboard",
    "prov4ml_auto.integrations.accelerate_",
    "prov4ml_auto.integrations.transformers_",
    "prov4ml_auto.integrations.lightning_",
)

patched: list[tuple[ModuleType, str]] = []


def install(config: Config, buffer: Buffer) -> None:
    """Register a post-import hook for every enabled integration."""
    for path in MODULES:
        integration = importlib.import_module(path)
        if config.integration_enabled(integration.NAME):
            for target in integration.TARGETS:
                when_imported(target, _patcher(integration, config, buffer))


def _patcher(integration: ModuleType, config: Config, buffer: Buffer):
    def hook(target: ModuleType) -> None:
        try:
            _patch(integration, target, config, buffer)
        except Exception as exc:
            faults.caught(integration.NAME, exc)
    return hook


def _patch(integration: ModuleType, target: ModuleType, config: Config, buffer: Buffer) -> None:
    if (integration, target.__name__) in patched:
        return
    bounds = integration.SUPPORTED.get(target.__name__)
    if not supported(bounds, getattr(target, "__version__", None)):
        if not config.quiet:  # type: ignore[attr-defined]
            warn(f"prov4ml: {target.__name__} {getattr(target, '__version__', '?')} is outside the supported "
                 f"range {bounds}; {integration.NAME} not instrumented")
        return
    emit, emit_hot = buffer.emit, buffer.emit_hot
    if integration.NAME in config.fault_inject:  # type: ignore[attr-defined]
        emit = emit_hot = failing_emitter(integration.NAME)
    collector.register(integration.HANDLERS)
    integration.patch(target, emit, emit_hot)
    patched.append((integration, target.__name__))


def supported(bounds: tuple[str, str] | None, version: Any) -> bool:
    if bounds is None:
        return True
    if not isinstance(version, str):
        return False
    current, low, high = _release(version), _release(bounds[0]), _release(bounds[1])
    return low <= current < high


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def unpatch_all() -> None:
    for integration in {integration for integration, _ in patched}:
        integration.unpatch()
    patched.clear()
