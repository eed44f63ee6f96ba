"""The `chatapp` command: the desktop app with no arguments, headless commands otherwise.

User mistakes end with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
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
    from chatapp.storage.entities import StorageError

    args = _parser().parse_args(argv)
    try:
        if args.version:
            return _version()
        if args.self_test:
            from chatapp.self_test import run_self_test

            return run_self_test(args.self_test_model)
        handler = getattr(args, "handler", None)
        if handler is None:
            from chatapp.app import run_app

            return run_app()
        return int(handler(args))
    except (CliError, StorageError) as exc:  # a storage error here: opening the database
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
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation end to end (a model generates a few "
                             "tokens, a message is drawn offscreen, ...) and print each check")
    parser.add_argument("--model", dest="self_test_model", type=Path, metavar="GGUF",
                        help="with --self-test: the model to test with (default: the starter "
                             "model)")
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
    chat.add_argument("--session", metavar="ID", help="continue this saved conversation")
    chat.add_argument("--no-save", action="store_true", help="do not save the conversation")
    chat.add_argument("--preset", help="start from a saved sampling preset "
                                       "(Precise, Balanced, Creative or your own)")
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
    e.add_argument("--rpc", metavar="HOST:PORT,...",
                   help="split the model over these workers (`chatapp worker` on each "
                        "computer); every layer then goes to them (and this computer's GPUs), "
                        "--gpu-layers is not used")
    e.add_argument("--split", metavar="auto|P,P,...", default="auto",
                   help="with --rpc: how to share the layers, one proportion per device in "
                        "order (the workers' devices as listed, then this computer's GPUs), "
                        "e.g. 1,3; default auto: by each device's free memory")
    chat.set_defaults(handler=_chat)

    sessions = sub.add_parser("sessions", help="saved conversations")
    ssub = sessions.add_subparsers(metavar="ACTION")
    s_list = ssub.add_parser("list", help="conversations, newest first (pinned on top)")
    s_list.add_argument("--limit", type=int, default=50)
    s_list.add_argument("--trash", action="store_true", help="list the trash instead")
    s_show = ssub.add_parser("show", help="a conversation's active branch")
    s_show.add_argument("id")
    s_search = ssub.add_parser("search", help="full-text search over all messages")
    s_search.add_argument("text")
    s_search.add_argument("--limit", type=int, default=20)
    s_export = ssub.add_parser("export", help="export a conversation")
    s_export.add_argument("id")
    s_export.add_argument("--format", choices=("md", "json"), default="md")
    s_export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    s_import = ssub.add_parser(
        "import", help="import a conversation (chatapp JSON or llama.cpp web UI JSON)")
    s_import.add_argument("file", type=Path)
    s_delete = ssub.add_parser("delete", help="move a conversation to the trash")
    s_delete.add_argument("id")
    s_restore = ssub.add_parser("restore", help="bring a conversation back from the trash")
    s_restore.add_argument("id")
    for action, parser_ in (("list", s_list), ("show", s_show), ("search", s_search),
                            ("export", s_export), ("import", s_import), ("delete", s_delete),
                            ("restore", s_restore)):
        if action != "export":
            parser_.add_argument("--json", action="store_true", help="machine-readable output")
        parser_.set_defaults(handler=_sessions, action=action)

    def sessions_help(_args: argparse.Namespace) -> int:
        sessions.print_help()
        return EXIT_USAGE

    sessions.set_defaults(handler=sessions_help)

    from chatapp.cli_engine import add_engine_parser
    from chatapp.cli_models import add_models_parser

    add_models_parser(sub)
    add_engine_parser(sub)

    render = sub.add_parser(
        "render", help="draw a Markdown file or a stored conversation to a PNG (offscreen)",
        description="Renders through the window's own message widgets, offscreen: for "
                    "screenshots, bug reports and tests.  Writes the PNG and, with --html, the "
                    "HTML the view was given.")
    render.add_argument("markdown", nargs="?", type=Path, help="a Markdown file ('-': stdin)")
    render.add_argument("--session", help="a stored conversation's id (its active branch)")
    render.add_argument("-o", "--output", type=Path, required=True, help="the PNG to write")
    render.add_argument("--html", type=Path, help="also write the HTML here")
    render.add_argument("--width", type=int, default=900, help="picture width in pixels")
    render.add_argument("--theme", choices=("light", "dark"), default="light")
    render.add_argument("--language", choices=("en", "zh_CN"), default="en",
                        help="language of the labels around the messages")
    render.set_defaults(handler=_render)
    _add_attention_parser(sub)
    _add_sampling_parser(sub)
    _add_worker_parser(sub)
    return parser


def _add_worker_parser(sub: Any) -> None:
    from chatapp.engine.rpc import DEFAULT_LISTEN

    worker = sub.add_parser(
        "worker", help="lend this computer's CPU or GPU to chatapp on another computer",
        description="Serves this computer's devices to chatapp on another computer, which "
                    "splits a model over its workers with --rpc (llama.cpp's RPC backend).  "
                    "llama.cpp's RPC protocol has no password and no encryption: by default "
                    "only programs on this computer can connect.  Ctrl+C stops it.")
    worker.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"address to listen on (default {DEFAULT_LISTEN}: this computer "
                             "only; 0.0.0.0:PORT lets every computer that can reach it in)")
    worker.add_argument("--device", action="append", metavar="NAME",
                        help="a device to serve, e.g. CUDA0 or CPU (repeatable; default: "
                             "every GPU, else the CPU; `chatapp models devices` lists them)")
    worker.add_argument("--threads", type=int,
                        help="threads for a CPU device (default: half the cores)")
    cache = worker.add_mutually_exclusive_group()
    cache.add_argument("--cache", type=Path, metavar="DIR",
                       help="where llama.cpp keeps the large tensors it was sent, so that the "
                            "next load of the same model sends only their hashes (default: "
                            "chatapp's cache folder /rpc)")
    cache.add_argument("--no-cache", action="store_true", help="keep no tensor cache")
    worker.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    from chatapp.engine.rpc import RpcError, default_threads, serve
    from chatapp.paths import cache_dir

    if args.threads is not None and args.threads < 1:
        raise CliError("worker: --threads must be at least 1")
    cache = None if args.no_cache else (args.cache or cache_dir() / "rpc")
    try:
        serve(args.listen, args.device, args.threads or default_threads(), cache)
    except RpcError as exc:
        raise CliError(f"worker: {exc}") from None


def _rpc_load_options(args: argparse.Namespace) -> dict[str, Any]:
    """`--rpc` and `--split` as EngineClient.load keyword arguments."""
    from chatapp.engine.rpc import RpcError, parse_endpoints

    if not args.rpc:
        if args.split != "auto":
            raise CliError("--split goes with --rpc (it shares the layers between workers)")
        return {}
    try:
        endpoints = parse_endpoints(args.rpc)
    except RpcError as exc:
        raise CliError(f"--rpc: {exc}") from None
    if args.split.strip().lower() == "auto":
        return {"rpc": endpoints, "split": "auto"}
    try:
        split = [float(v) for v in args.split.split(",")]
    except ValueError:
        raise CliError(f"--split: {args.split!r} is not auto or numbers separated by commas "
                       "(e.g. 1,3)") from None
    return {"rpc": endpoints, "split": split}


def _placement_note(model: dict[str, Any]) -> str:
    """Where the layers went, on one line: "RPC0 127.0.0.1:50052 layers 0-15 (35 MB), ..."."""
    parts = []
    for dev in model.get("devices_used") or []:
        where = f"{dev['name']} {dev['endpoint']}" if dev.get("endpoint") else \
            f"{dev['name']} (this computer)"
        got = []
        if dev.get("layers"):
            first, last = dev["layers"]
            got.append(f"layers {first}-{last}" if last != first else f"layer {first}")
        if dev.get("output_layer"):
            got.append("output layer")
        if dev.get("input_layer"):
            got.append("token embeddings")
        size = dev.get("weights_bytes")
        parts.append(f"{where}: {', '.join(got) or 'nothing'}"
                     + (f" ({size / 1e6:.0f} MB)" if size else ""))
    return "; ".join(parts)


def _render(args: argparse.Namespace) -> int:
    if (args.markdown is None) == (args.session is None):
        raise CliError("render: give a Markdown file or --session ID (one of them)")
    if not 200 <= args.width <= 8000:
        raise CliError("render: --width must be between 200 and 8000")
    if args.session is not None:
        from chatapp.storage.repository import ChatStore

        store = ChatStore.open_default()
        try:
            messages = store.active_path(args.session)
            branches = store.branches(args.session)
        finally:
            store.close()
    else:
        try:
            text = (sys.stdin.read() if str(args.markdown) == "-"
                    else args.markdown.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise CliError(f"render: cannot read {args.markdown}: {exc.strerror}") from exc
        branches = {}
    # Offscreen unless told otherwise: a render needs no display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from chatapp.services.i18n import Translations
    from chatapp.ui.fonts import ensure_cjk_font
    from chatapp.ui.render import markdown_message, render_messages
    from chatapp.ui.theme import apply_theme

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    ensure_cjk_font()
    dark = apply_theme(app, args.theme)
    Translations(app).apply(args.language)
    if args.session is None:
        messages = [markdown_message(text)]
    result = render_messages(messages, args.output, html_path=args.html, width=args.width,
                             dark=dark, branches=branches)
    print(f"{result.png} ({result.width}x{result.height})"
          + (f", {result.html}" if result.html else "")
          + (" — cut: the conversation is taller than one picture" if result.cut else ""))
    return 0


def _add_attention_parser(sub: Any) -> None:
    attention = sub.add_parser(
        "attention", help="capture a model's attention weights to an NPZ file",
        description="Replays the text through the model in the model process and writes the "
                    "post-softmax attention weights: 'tokens' (int32, T) and 'attention' "
                    "(float32, layers x heads x T x T, rows = query positions), with 'layers' "
                    "and 'heads' naming each slot.")
    attention.add_argument("-m", "--model", help="GGUF file (default: the starter model)")
    attention.add_argument("--text", required=True,
                           help="the text to look at (tokenized as it is, no chat template)")
    attention.add_argument("--layer", type=int, action="append",
                           help="a layer to keep (repeatable; default: all)")
    attention.add_argument("--head", type=int, action="append",
                           help="a head to keep (repeatable; default: all)")
    attention.add_argument("--out", type=Path, required=True, help="the NPZ file to write")
    attention.add_argument("--png", type=Path,
                           help="also draw a heatmap: the first layer and head asked, or the "
                                "mean over the heads of the first layer when no head is given")
    attention.add_argument("--max-tokens", type=int, default=1024,
                           help="keep the last N tokens of a longer text (default 1024)")
    attention.add_argument("--max-mb", type=int, default=512,
                           help="memory budget of the weights in MiB; fewer layers are kept "
                                "beyond it (default 512)")
    attention.add_argument("--threads", type=int, help="threads (default: leaves headroom)")
    attention.set_defaults(handler=_attention)


def _attention(args: argparse.Namespace) -> int:
    import shutil

    from chatapp.engine.client import EngineClient, EngineError
    from chatapp.paths import logs_dir

    model = _model_path(args.model)
    if not args.text.strip():
        raise CliError("attention: --text is empty")
    if args.max_tokens < 1 or args.max_mb < 1:
        raise CliError("attention: --max-tokens and --max-mb must be at least 1")
    for flag, target in (("--out", args.out), ("--png", args.png)):
        if target is not None and not target.parent.resolve().is_dir():
            raise CliError(f"attention: {flag}: no folder {target.parent}")
    client = EngineClient(log_path=logs_dir() / "engine.log")
    try:
        client.start()
        client.load(model, n_ctx=512, n_threads=args.threads, n_threads_batch=args.threads)
        event = client.attention(text=args.text, layers=args.layer, heads=args.head,
                                 max_tokens=args.max_tokens, max_bytes=args.max_mb * 2**20)
    except EngineError as exc:
        raise CliError(f"attention: {exc.message}") from None
    finally:
        client.shutdown()
    try:
        shutil.copyfile(event["path"], args.out)
    except OSError as exc:
        raise CliError(f"attention: cannot write {args.out}: {exc.strerror or exc}") from None
    L, H, T, _ = event["shape"]
    print(f"{T} tokens, attention {L}x{H}x{T}x{T} float32 (layers x heads x query x key) in "
          f"{event['capture_ms'] / 1000:.2f} s -> {args.out}")
    if args.png is not None:
        print(_attention_png(args.out, args.png, by_head=args.head is not None, event=event))
    if event.get("left_out"):
        print(f"(left out: {event['left_out']})", file=sys.stderr)
    return 0


def _attention_png(npz: Path, png: Path, *, by_head: bool, event: dict[str, Any]) -> str:
    """Draw the first layer slot's first head (or its mean over heads); returns a summary."""
    import numpy as np

    from chatapp.engine.attention import heatmap_rgb, write_png

    with np.load(npz) as data:
        weights = data["attention"][0]
    layer = event["layers"][0]
    matrix = weights[0] if by_head else weights.mean(axis=0)
    what = f"layer {layer}, head {event['heads'][0]}" if by_head else \
        f"layer {layer}, mean of {len(event['heads'])} heads"
    picture = heatmap_rgb(matrix)
    try:
        write_png(png, picture)
    except OSError as exc:
        raise CliError(f"attention: cannot write {png}: {exc.strerror or exc}") from None
    return f"heatmap of {what} ({picture.shape[1]}x{picture.shape[0]}) -> {png}"


def _version() -> int:
    from chatapp.engine.versions import engine_versions

    v = engine_versions()
    print(f"chatapp {v['chatapp']}")
    print(f"llama-cpp-python {v['llama_cpp_python']}")
    print(f"llama.cpp ggml {v['ggml']} (commit {v['llama_cpp_commit']})")
    return 0


_SAMPLING_FLAGS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty",
                   "frequency_penalty", "presence_penalty", "penalty_last_n", "seed", "max_tokens")


def _given_sampling(args: argparse.Namespace) -> dict[str, Any]:
    """The sampling settings set by flags on this command line."""
    given: dict[str, Any] = {
        n: getattr(args, n) for n in _SAMPLING_FLAGS if getattr(args, n) is not None
    }
    if args.stop:
        given["stop"] = tuple(args.stop)
    return given


def _sampling(args: argparse.Namespace, base: dict[str, Any] | None = None) -> Any:
    """Settings from `base` (a conversation's, a preset's, the saved defaults), then the flags."""
    from dataclasses import fields

    from chatapp.core.sampling import SamplingSettings

    known = {f.name for f in fields(SamplingSettings)}
    values = {k: v for k, v in (base or {}).items() if k in known}
    values.update(_given_sampling(args))
    try:
        return SamplingSettings.from_dict(values)
    except (TypeError, ValueError) as exc:
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

    flag_sampling = _sampling(args)  # a bad value is reported before anything else happens
    rpc_options = _rpc_load_options(args)
    model = _model_path(args.model)
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise CliError("empty prompt")
    if args.no_save and (args.session or args.preset):
        raise CliError("--session and --preset use saved data; they cannot go with --no-save")
    session = None if args.no_save else _ChatSession.open(args, model, prompt)
    sampling = session.sampling if session else flag_sampling
    messages = session.messages if session else (
        ([{"role": "system", "content": args.system}] if args.system else [])
        + [{"role": "user", "content": prompt}]
    )
    # A saved reply keeps its stage records (the panel reopens them); printing them is --json.
    records = session is not None or (args.json and not args.no_records)
    client = EngineClient(log_path=logs_dir() / "engine.log")
    try:
        client.start()
        loaded = client.load(model, n_ctx=args.ctx, n_threads=args.threads,
                             n_threads_batch=args.threads_batch, n_gpu_layers=args.gpu_layers,
                             flash_attn=args.flash_attn, **rpc_options)
        if rpc_options:
            print(f"[split: {_placement_note(loaded['model'])}]", file=sys.stderr)
        if session:
            session.begin()
        for event in client.generate(messages, sampling, records=records, top_n=args.top_n,
                                     context_event=True):
            if event["type"] == "context":
                # Not printed with --json: its output stays "one object per token, then the
                # summary" (which carries dropped_messages); a note on stderr suits both modes.
                _context_note(event)
                continue
            if session:
                session.event(event)
            if args.json and args.no_records:
                event = {k: v for k, v in event.items() if k not in _RECORD_KEYS}
            if "records_blob" in event:
                # Storage's copy of the token events' records (base64): not for the output.
                event = {k: v for k, v in event.items() if k != "records_blob"}
            _print_event(event, args.json)
    except EngineError as exc:
        if session:
            session.failed(exc.message)
        raise CliError(exc.message) from None
    except KeyboardInterrupt:
        if session:
            session.failed("stopped by the user", cancelled=True)
        raise
    finally:
        client.shutdown()
        if session:
            session.close()
    return 0


_RECORD_KEYS = frozenset({"stages", "chosen_rank", "chosen_p", "raw_rank", "raw_p"})


def _context_note(event: dict[str, Any]) -> None:
    """Say on stderr when the oldest messages were left out to fit the context."""
    dropped = int(event.get("dropped_messages") or 0)
    if dropped:
        what = ("the oldest message was left out: it no longer fits" if dropped == 1 else
                f"the {dropped} oldest messages were left out: they no longer fit")
        print(f"({what} in the {event.get('n_ctx')}-token context)", file=sys.stderr)


class _ChatSession:
    """The saved side of `chatapp chat`: the conversation, the user's message, the reply."""

    def __init__(self, store: Any, conversation: Any, messages: list[dict[str, str]],
                 user_message_id: str, sampling: Any) -> None:
        self.store = store
        self.conversation = conversation
        self.messages = messages
        self.user_message_id = user_message_id
        self.sampling = sampling
        self.writer: Any = None

    @classmethod
    def open(cls, args: argparse.Namespace, model: Path, prompt: str) -> _ChatSession:
        from chatapp.storage.entities import NotFoundError, StorageError
        from chatapp.storage.repository import ChatStore

        store = ChatStore.open_default()
        if store.notice:
            print(f"chatapp: {store.notice}", file=sys.stderr)
        try:
            # Settings stick: a conversation keeps its own, a new one starts from the preset
            # asked for or the saved defaults; flags on this command line override and stick.
            base: Any
            if args.session:
                conv = store.get_conversation(args.session)
                base = conv.sampling
            elif args.preset:
                base = next((p.sampling for p in store.presets() if p.name == args.preset), None)
                if base is None:
                    names = ", ".join(p.name for p in store.presets())
                    raise CliError(f"no preset {args.preset!r} (there are: {names})")
            else:
                base = store.get_setting("defaults.sampling")
            sampling = _sampling(args, base if isinstance(base, dict) else None)
            if args.session:
                if _given_sampling(args):
                    store.set_sampling(conv.id, sampling.to_dict())
                if args.system is not None:
                    store.set_system_prompt(conv.id, args.system)
                conv = store.get_conversation(conv.id)
            else:
                conv = store.create_conversation(
                    model=model.name, system_prompt=args.system or "",
                    sampling=sampling.to_dict(),
                )
            history = [{"role": m.role, "content": m.content}
                       for m in store.active_path(conv.id) if m.content]
            # Committed before generation starts: the question survives whatever happens next.
            user = store.add_message(conv.id, "user", prompt)
        except NotFoundError:
            store.close()
            raise CliError(f"no saved conversation {args.session!r} "
                           "(chatapp sessions list shows them)") from None
        except StorageError as exc:
            store.close()
            raise CliError(str(exc)) from None
        except CliError:
            store.close()
            raise
        system = [{"role": "system", "content": conv.system_prompt}] if conv.system_prompt else []
        return cls(store, conv, [*system, *history, {"role": "user", "content": prompt}], user.id,
                   sampling)

    def begin(self) -> None:
        from chatapp.storage.reply_writer import ReplyWriter

        reply = self.store.begin_reply(self.conversation.id, self.user_message_id)
        self.writer = ReplyWriter(self.store, reply.id)

    def event(self, event: dict[str, Any]) -> None:
        if event["type"] == "token":
            self.writer.token(event)
        elif event["type"] == "done":
            self.writer.done(event)
            print(f"[saved in conversation {self.conversation.id}]", file=sys.stderr)
            self.writer = None

    def failed(self, message: str, *, cancelled: bool = False) -> None:
        if self.writer is not None:
            self.writer.failed(message, cancelled=cancelled)
            self.writer = None

    def close(self) -> None:
        self.store.close()


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


def _sessions(args: argparse.Namespace) -> int:
    from chatapp.storage.entities import StorageError
    from chatapp.storage.repository import ChatStore

    store = ChatStore.open_default()
    if store.notice:
        print(f"chatapp: {store.notice}", file=sys.stderr)
    try:
        action = "import_" if args.action == "import" else args.action
        return int(getattr(_SessionCommands(store, args), action)())
    except StorageError as exc:
        raise CliError(_storage_message(exc, args)) from None
    finally:
        store.close()


def _storage_message(exc: Exception, args: argparse.Namespace) -> str:
    from chatapp.storage.entities import NotFoundError

    if isinstance(exc, NotFoundError) and getattr(args, "id", None):
        return f"no conversation {args.id!r} (chatapp sessions list shows them)"
    return str(exc)


def _conversation_dict(c: Any) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "created_at": c.created_at,
            "updated_at": c.updated_at, "model": c.model, "folder": c.folder,
            "pinned": c.pinned, "deleted_at": c.deleted_at}


def _message_dict(m: Any) -> dict[str, Any]:
    return {"id": m.id, "parent_id": m.parent_id, "role": m.role, "content": m.content,
            "status": m.status, "created_at": m.created_at, "provenance": m.provenance,
            "error": m.error}


class _SessionCommands:
    """`chatapp sessions ACTION`: one method per action, printing text or JSON."""

    def __init__(self, store: Any, args: argparse.Namespace) -> None:
        self.store = store
        self.args = args

    def _out(self, data: Any, lines: list[str]) -> None:
        if getattr(self.args, "json", False):
            print(json.dumps(data, ensure_ascii=False, indent=2))
        elif lines:
            print("\n".join(lines))

    def list(self) -> int:
        convs = (self.store.trash() if self.args.trash
                 else self.store.list_conversations(limit=self.args.limit))
        self._out([_conversation_dict(c) for c in convs], [
            f"{c.id}  {_when(c.updated_at)}  {'📌 ' if c.pinned else ''}"
            f"{c.title or '(untitled)'}" for c in convs
        ])
        return 0

    def show(self) -> int:
        conv = self.store.get_conversation(self.args.id)
        path = self.store.active_path(conv.id)
        lines = [f"# {conv.title or '(untitled)'}", ""]
        for m in path:
            status = "" if m.status == "complete" else f" [{m.status}]"
            lines += [f"## {m.role}{status}", m.content, ""]
        self._out({"conversation": _conversation_dict(conv),
                   "messages": [_message_dict(m) for m in path]}, lines)
        return 0

    def search(self) -> int:
        hits = self.store.search(self.args.text, limit=self.args.limit)
        self._out([{"conversation_id": h.conversation_id, "title": h.conversation_title,
                    "message_id": h.message_id, "role": h.role, "snippet": h.snippet}
                   for h in hits],
                  [f"{h.conversation_id}  {h.conversation_title}: {h.snippet}" for h in hits]
                  or ["no matches"])
        return 0

    def export(self) -> int:
        from chatapp.storage import exchange

        conv = self.store.get_conversation(self.args.id)
        if self.args.format == "md":
            text = exchange.to_markdown(self.store, conv.id)
        else:
            text = json.dumps(exchange.to_json(self.store, conv.id), ensure_ascii=False,
                              indent=2) + "\n"
        if self.args.output:
            self.args.output.write_text(text, "utf-8")
        else:
            sys.stdout.write(text)
        return 0

    def import_(self) -> int:
        from chatapp.storage import exchange

        try:
            data = json.loads(self.args.file.read_text("utf-8"))
        except OSError as exc:
            raise CliError(f"cannot read {self.args.file}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CliError(f"{self.args.file} is not a JSON file: {exc}") from None
        try:
            convs = exchange.import_any(self.store, data)
        except exchange.ImportFormatError as exc:
            raise CliError(f"{self.args.file}: {exc}") from None
        self._out([_conversation_dict(c) for c in convs],
                  [f"imported {c.id}  {c.title}" for c in convs])
        return 0

    def delete(self) -> int:
        self.store.delete(self.args.id)
        self._out({"deleted": self.args.id},
                  [f"moved {self.args.id} to the trash (chatapp sessions restore "
                   f"{self.args.id} brings it back)"])
        return 0

    def restore(self) -> int:
        self.store.restore(self.args.id)
        self._out({"restored": self.args.id}, [f"restored {self.args.id}"])
        return 0


def _when(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _add_sampling_parser(sub: Any) -> None:
    sampling = sub.add_parser(
        "sampling", help="show how the sampler chain picks each token, stage by stage",
        description="Generates a few tokens with per-token records and prints, for each token, "
                    "every sampler stage (raw, penalties, top-k, top-p, min-p, temperature): "
                    "how many candidates survive, the most likely ones with their "
                    "probabilities, and the chosen token's rank and probability.  --json / "
                    "--out give everything, with the what-if candidates (the 64 highest logits "
                    "entering top-k and the log-sum-exp of all of them).")
    sampling.add_argument("prompt", nargs="?", help="the message (read from stdin when omitted)")
    sampling.add_argument("-m", "--model", help="GGUF file (default: the starter model)")
    sampling.add_argument("--system", help="system prompt")
    sampling.add_argument("--tokens", "--max-tokens", dest="max_tokens", type=int, default=8,
                          help="tokens to generate (default 8)")
    sampling.add_argument("--top-n", type=int, default=20,
                          help="candidates kept per stage (default 20; the table shows 5)")
    sampling.add_argument("--json", action="store_true", help="print the JSON instead")
    sampling.add_argument("--out", type=Path, help="write the JSON to this file")
    g = sampling.add_argument_group("sampling (as for chat)")
    for flag, kind in (("--temperature", float), ("--top-k", int), ("--top-p", float),
                       ("--min-p", float), ("--repeat-penalty", float),
                       ("--frequency-penalty", float), ("--presence-penalty", float),
                       ("--penalty-last-n", int), ("--seed", int)):
        g.add_argument(flag, type=kind)
    g.add_argument("--stop", action="append", help="stop string (repeatable)")
    e = sampling.add_argument_group("engine")
    e.add_argument("--threads", type=int, help="generation threads (default: leaves headroom)")
    e.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    e.add_argument("--gpu-layers", type=int, default=0, help="layers to offload (-1 = all)")
    sampling.set_defaults(handler=_sampling_command)


def _sampling_command(args: argparse.Namespace) -> int:
    from chatapp.engine.client import EngineClient, EngineError
    from chatapp.paths import logs_dir

    settings = _sampling(args)  # the flags over the defaults; a bad value stops here
    if not 1 <= args.top_n <= 1000:
        raise CliError("sampling: --top-n must be between 1 and 1000")
    if args.out is not None and not args.out.parent.resolve().is_dir():
        raise CliError(f"sampling: --out: no folder {args.out.parent}")
    model = _model_path(args.model)
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise CliError("empty prompt")
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": prompt}]
    tokens: list[dict[str, Any]] = []
    done: dict[str, Any] = {}
    client = EngineClient(log_path=logs_dir() / "engine.log")
    try:
        client.start()
        client.load(model, n_ctx=args.ctx, n_threads=args.threads, n_gpu_layers=args.gpu_layers)
        for event in client.generate(messages, settings, records=True, top_n=args.top_n):
            if event["type"] == "token":
                tokens.append({k: v for k, v in event.items() if k not in ("type", "id")})
                if not args.json:
                    _print_sampling_token(tokens[-1])
            else:
                done = {k: v for k, v in event.items() if k not in ("type", "id")}
    except EngineError as exc:
        raise CliError(f"sampling: {exc.message}") from None
    finally:
        client.shutdown()
    report = {"model": str(model), "messages": messages,
              "sampling": done.get("sampling", settings.to_dict()), "tokens": tokens,
              "summary": {k: v for k, v in done.items()
                          if k not in ("sampling", "text", "records_blob")},
              "text": done.get("text", "")}
    if args.out is not None:
        try:
            args.out.write_text(json.dumps(report, ensure_ascii=False) + "\n", "utf-8")
        except OSError as exc:
            raise CliError(f"sampling: cannot write {args.out}: {exc.strerror or exc}") from None
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        print(f"[{len(tokens)} tokens, seed {done.get('seed')}, {done.get('finish_reason')}"
              + (f"; JSON in {args.out}" if args.out is not None else "") + "]")
    return 0


def _shown(text: str) -> str:
    """A token's text on one line: quoted, with newlines and tabs escaped."""
    return repr(text)


def _print_sampling_token(t: dict[str, Any]) -> None:
    """One token's stages as a small table."""
    chosen = t["token"]
    print(f"token {t['i']}: {_shown(t['piece'])} (id {chosen}) — rank {t['chosen_rank']}, "
          f"p {t['chosen_p']:.4f} at the last stage; raw rank {t['raw_rank']}, "
          f"p {t['raw_p']:.4f}")
    print(f"  {'stage':<18}{'survivors':>10}  {'chosen':<14}top 5")
    for stage in t["stages"]:
        ids = [c[0] for c in stage["top"]]
        if chosen in ids:
            rank = ids.index(chosen)
            mark = f"#{rank} {stage['top'][rank][2]:.4f}"
        else:
            mark = f"beyond top {len(ids)}"
        top = "  ".join(f"{_shown(c[1])} {c[2]:.3f}" for c in stage["top"][:5])
        name = stage["name"] + ("" if stage["active"] else " (off)")
        print(f"  {name:<18}{stage['survivors']:>10}  {mark:<14}{top}")
    print()


if __name__ == "__main__":
    sys.exit(main())
