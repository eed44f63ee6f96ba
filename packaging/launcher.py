"""The packaged app's entry point (PyInstaller runs this as the bundle's executable).

The same executable is the desktop app, the command line, and — with `--run-module` — the
model process and the support checker that chatapp starts as child processes (a bundle has no
separate Python to run them with; see chatapp/launch.py).
"""

from __future__ import annotations

import sys


def main() -> int:
    """Dispatch: a child process's module, or chatapp's command line (the GUI without
    arguments)."""
    from chatapp.launch import run_module_if_asked

    if run_module_if_asked(sys.argv):
        return 0
    from chatapp.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
