"""``prov4ml info``: what the agent would do here, without running anything: settings, switches, integrations."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import site
import sys

from prov4ml_auto import __version__
from prov4ml_auto.config import SETTINGS, Config, show_value
from prov4ml_auto.integrations import MODULES, supported


def _pth_location() -> str:
    folders = site.getsitepackages() + [site.getusersitepackages()]
    found = [os.path.join(folder, "prov4ml_auto.pth") for folder in folders
             if os.path.exists(os.path.join(folder, "prov4ml_auto.pth"))]
    return found[0] if found else "not found (PROV4ML_ENABLE=1 alone will not start the agent; use prov4ml-run)"


def _target_state(target: str, bounds: tuple[str, str] | None) -> str:
    root = target.split(".")[0]
    if importlib.util.find_spec(root) is None:
        return "not installed"
    try:
        version = importlib.metadata.version(root)
    except importlib.metadata.PackageNotFoundError:
        return "standard library" if bounds is None else "installed"
    return f"{version} ({'supported' if supported(bounds, version) else f'outside {bounds[0]} - {bounds[1]}'})" \
        if bounds else version


def main() -> int:
    config = Config()
    print(f"prov4ml-auto {__version__} on Python {sys.version.split()[0]}")
    print(f"  .pth switch: {_pth_location()}")
    print(f"  enabled now: {'yes' if config.enable else 'no'} (PROV4ML_ENABLE)")  # type: ignore[attr-defined]
    print("settings:")
    for setting in SETTINGS:
        source = "set" if setting.env in os.environ else "default"
        print(f"  {setting.env:28} {show_value(getattr(config, setting.name)):24} {source}")
    for warning in config.warnings:
        print(f"  {warning}")
    print("integrations:")
    for path in MODULES:
        module = importlib.import_module(path)
        on = "on " if config.integration_enabled(module.NAME) else "off"
        targets = ", ".join(f"{t}: {_target_state(t, module.SUPPORTED.get(t))}" for t in module.TARGETS)
        print(f"  {on} {module.NAME:18} {targets}")
    return 0
