"""How chatapp starts its own child processes, from a Python install or from a bundle.

The model process and the support checker run as `python -m <module>`.  A PyInstaller bundle
has no `python` that understands `-m`: its executable is the app itself.  So children are
started through `module_command`, and the bundle's entry point hands `--run-module MODULE` to
`run_module_if_asked` before anything else happens.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

RUN_MODULE_FLAG = "--run-module"


def is_frozen() -> bool:
    """True inside a PyInstaller (or similar) bundle."""
    return bool(getattr(sys, "frozen", False))


def module_command(module: str) -> list[str]:
    """The command line that runs `module` as `__main__` in a new process."""
    if is_frozen():
        return [sys.executable, RUN_MODULE_FLAG, module]
    return [sys.executable, "-m", module]


def run_module_if_asked(argv: Sequence[str]) -> bool:
    """Run `argv`'s `--run-module MODULE` as `__main__` and return True; False if not asked.

    Only chatapp's own modules may be named: the flag exists for our children, not as a way
    to run arbitrary code through the app's executable.
    """
    if len(argv) < 3 or argv[1] != RUN_MODULE_FLAG:
        return False
    module = argv[2]
    if module != "chatapp" and not module.startswith("chatapp."):
        raise SystemExit(f"chatapp: {RUN_MODULE_FLAG} runs chatapp's own modules only")
    sys.argv = [argv[0], *argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return True
