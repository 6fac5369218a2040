"""Run-level facts gathered on the collector thread: process, host, software, code version.

Everything slow (listing distributions, running git, hashing the script) happens here, off the training
thread, and every probe answers with data ("no repository", "git not found") rather than failing.

No probe here may enter ``warnings.catch_warnings``: that resets Python's once-per-location memory of the
warnings the script has shown, which it would then show again. The standard library does so when it looks a
program up in PATH (``os.get_exec_path``), so git runs by its full path, and ``platform.platform()``, which
runs ``uname -p``, is not used.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import shutil
import socket
import subprocess
import sys
from typing import Any, Collection

from prov4ml_auto import __version__
from prov4ml_auto.files import file_sha256
from prov4ml_auto.redact import allowed_environment, redact_argv, redact_text

_GIT_TIMEOUT = 5.0


_COMMAND_LIMIT = 8192


_MAX_ARGUMENTS_LOOKED_AT = 256


def command(argv: list[str], secret_options: Collection[str] = (), secret_values: Collection[str] = ()) -> str:
    """The command line, secrets redacted (see ``redact_argv``)."""
    text = " ".join(redact_argv(argv, secret_options, secret_values))
    if len(text) > _COMMAND_LIMIT:  # argv can be megabytes (file lists); keep the document compact
        text = f"{text[:_COMMAND_LIMIT]}... ({len(text) - _COMMAND_LIMIT} more characters)"
    return text


def files_named(arguments: list[str], secret_options: Collection[str], secret_values: Collection[str], cwd: str,
                script: str | None) -> list[tuple[str, tuple[int, int]]]:
    """The existing regular files the command's arguments name (``x.yaml``, ``--data=x.csv``), relative to the
    directory the process started in; not the script, nor the values of secret options (redacted first)."""
    found = []
    for argument in redact_argv(arguments, secret_options, secret_values)[:_MAX_ARGUMENTS_LOOKED_AT]:
        for candidate in (argument, argument.partition("=")[2]):
            if not candidate or len(candidate) > 4096:
                continue
            path = os.path.normpath(os.path.join(cwd, candidate))
            try:
                state = os.stat(path) if os.path.isfile(path) else None
            except (OSError, ValueError):
                state = None
            if state is not None and path != script:
                found.append((path, (state.st_size, state.st_mtime_ns)))
    return found


def process_facts(cwd: str, pid: int) -> dict[str, Any]:
    return {
        "cwd": cwd,
        "pid": pid,
        "hostname": socket.gethostname(),
        "agentVersion": __version__,
    }


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def environment_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "os": _os_name(),
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "pythonImplementation": platform.python_implementation(),
        "pythonExecutable": sys.executable,
        "distributions": "; ".join(installed_distributions()),
    }
    facts.update({f"env.{name}": value for name, value in allowed_environment(os.environ).items()})
    return facts


def installed_distributions() -> list[str]:
    """name==version of every distribution on sys.path, from the names of their .dist-info / .egg-info
    folders (``torch-2.13.0+cpu.dist-info``): 0.5 ms where importlib.metadata, which parses every METADATA
    file, takes 70 ms and more of the collector's time while the training has just begun. Names come out
    normalised as the installer wrote them (``absl_py``)."""
    found = set()
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except OSError:
            continue
        with entries:
            for entry in entries:
                stem, dot, suffix = entry.name.rpartition(".")
                parts = stem.split("-")
                if dot and suffix in ("dist-info", "egg-info") and len(parts) >= 2:
                    found.add(f"{parts[0]}=={parts[1]}")
    return sorted(found, key=str.lower)


def script_path() -> str | None:
    """The user's script: argv[0] for ``python x.py``, else ``__main__.__file__`` once runpy has set it."""
    first = sys.argv[0] if sys.argv else ""
    if first not in ("", "-c", "-m") and os.path.isfile(first):
        return os.path.abspath(first)
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if isinstance(main_file, str) and os.path.isfile(main_file) and "prov4ml_auto" not in main_file:
        return os.path.abspath(main_file)
    return None


def script_facts(path: str) -> dict[str, Any]:
    return {"path": path, "sha256": file_sha256(path)}


def git_facts(folder: str) -> dict[str, Any]:
    """Commit, branch, dirty flag and a digest of the uncommitted diff of the repository holding ``folder``."""
    try:
        commit = _git(folder, "rev-parse", "HEAD")
    except FileNotFoundError:
        return {"gitStatus": "git not found"}
    except (subprocess.SubprocessError, OSError) as exc:
        return {"gitStatus": f"git failed: {type(exc).__name__}"}
    if commit is None:
        return {"gitStatus": "no repository"}
    status = _git(folder, "status", "--porcelain", "--untracked-files=no") or ""
    diff = _git_bytes(folder, "diff", "HEAD") or b""
    facts: dict[str, Any] = {
        "gitStatus": "repository",
        "gitCommit": commit,
        "gitBranch": _git(folder, "rev-parse", "--abbrev-ref", "HEAD"),
        "gitDirty": bool(status.strip()),
        "gitDiffSha256": hashlib.sha256(diff).hexdigest() if diff else None,
        "gitRoot": _git(folder, "rev-parse", "--show-toplevel"),
    }
    remote = _git(folder, "config", "--get", "remote.origin.url")
    if remote:
        facts["gitRemote"] = redact_text(remote)
    return facts


def _os_name() -> str:
    """platform.platform()'s text on Linux ("Linux-6.1.0-x86_64-with-glibc2.36"), without its subprocess
    (these three never read the lazy ``processor`` field, which runs it)."""
    libc, version = platform.libc_ver()
    return f"{platform.system()}-{platform.release()}-{platform.machine()}" + (f"-with-{libc}{version}" if libc else "")


def _git(folder: str, *args: str) -> str | None:
    out = _git_bytes(folder, *args)
    return None if out is None else out.decode("utf-8", "replace").strip()


def _git_bytes(folder: str, *args: str) -> bytes | None:
    git = shutil.which("git")
    if git is None:
        raise FileNotFoundError("git")
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    result = subprocess.run(
        [git, "-C", folder, *args], capture_output=True, timeout=_GIT_TIMEOUT, env=env, check=False,
    )
    return result.stdout if result.returncode == 0 else None
