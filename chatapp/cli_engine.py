"""`chatapp engine`: what the installed llama.cpp was built with, and `--ensure-rpc` to rebuild
it with RPC (the install commands in the README run it: pip's cache can hand back a build
without RPC whatever CMAKE_ARGS says)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from chatapp.cli import CliError


def add_engine_parser(sub: Any) -> None:
    """Add `engine` to the top-level subparsers."""
    engine = sub.add_parser(
        "engine", help="what llama.cpp was built with; --ensure-rpc rebuilds it with RPC",
        description="Prints the installed llama-cpp-python's version, whether it has RPC "
                    "(needed to split a model over workers) and its GPU backends.  With "
                    "--ensure-rpc, a build without RPC is replaced by one with it (compiled "
                    "once, about 10 minutes on two cores, then kept in pip's cache folder); "
                    "CMAKE_ARGS in the environment are passed on, and GPU backends are kept.")
    engine.add_argument("--ensure-rpc", action="store_true",
                        help="rebuild llama-cpp-python with RPC unless it already has it")
    engine.add_argument("--json", action="store_true", help="machine-readable output")
    engine.set_defaults(handler=_engine)


def _engine(args: argparse.Namespace) -> int:
    import sys

    from chatapp.engine.build import BuildError, ensure_rpc, probe

    if getattr(sys, "frozen", False):  # the packaged app: no interpreter or pip to run
        raise CliError("engine: the packaged app carries its own llama.cpp build; "
                       "`chatapp models devices` shows what it can use")
    try:
        if args.ensure_rpc:
            # flush: pip's own output goes straight to the terminal, ours must come before it.
            facts = ensure_rpc(say=(lambda _text: None) if args.json
                               else (lambda text: print(text, flush=True)))
        else:
            facts = probe()
    except BuildError as exc:
        raise CliError(f"engine: {exc}") from None
    if args.json:
        print(json.dumps({"version": facts.version, "rpc": facts.rpc,
                          "gpu_backends": list(facts.gpu_backends)}))
    elif not args.ensure_rpc:
        print(f"llama-cpp-python {facts.version}")
        print(f"RPC (split a model over workers): {'yes' if facts.rpc else 'no'}")
        print("GPU backends: " + (", ".join(facts.gpu_backends) or "none (CPU build)"))
    return 0
