"""The model library: GGUF files in the app's model folder, plus files imported from elsewhere.

Listing reads only headers (the bounded pre-flight check, about a millisecond per file), so it is
cheap enough to repeat whenever the folder may have changed.  The slow facts — each file's SHA-256
and whether the installed llama.cpp can load it — live in `file_facts`, which callers run off the
GUI thread; both are cached by path, size and modification time.

Imported files are *referenced*, not copied (a model can be tens of gigabytes): their paths are
kept in the config file under "imported_models".  Removing an imported model forgets it;
removing a model from the model folder deletes its file(s).

A model split over several files ("name-00001-of-00003.gguf") is one entry: its first part,
which is the file llama.cpp is given (it finds the other parts beside it).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatapp.engine.gguf_preflight import GGUFInfo, GGUFPreflightError, inspect_gguf
from chatapp.paths import cache_dir, models_dir, read_config_value, write_config_value

IMPORTED_KEY = "imported_models"
SOURCES_FILE = ".sources.json"

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)


class LibraryError(Exception):
    """A library action failed; str() says why in words a user understands."""


@dataclass(frozen=True)
class LibraryEntry:
    """One model in the library.

    Attributes:
        path: the file llama.cpp is given (the first part of a split model).
        origin: "folder" (in the app's model folder) or "imported" (referenced where it is).
        parts: every file of the model, in order (one for an ordinary model).
        missing_parts: parts a split model names but that are not beside the first (it cannot
            load until they are).
        size: bytes of all parts present.
        info: the pre-flight facts (None when the header is not usable: see `problem`).
        problem: why the file is not usable, or None.
        source: where it was downloaded from ({"repo_id", "revision", "path", "sha256"}), or
            None for files that did not come through the download manager.
    """

    path: Path
    origin: str
    parts: tuple[Path, ...]
    missing_parts: int
    size: int
    info: GGUFInfo | None
    problem: str | None
    source: dict[str, Any] | None = field(default=None)

    @property
    def name(self) -> str:
        """The file name (what the user calls it; unique within the model folder)."""
        return self.path.name

    @property
    def usable(self) -> bool:
        """True when the header passed the pre-flight check and no part is missing."""
        return self.problem is None and self.missing_parts == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's `--json`)."""
        info = self.info
        return {
            "name": self.name, "path": str(self.path), "origin": self.origin,
            "parts": [str(p) for p in self.parts], "missing_parts": self.missing_parts,
            "size": self.size, "usable": self.usable, "problem": self.problem,
            "architecture": info.architecture if info else None,
            "parameters": info.parameter_count if info else None,
            "quantization": info.quantization if info else None,
            "context_length": info.context_length if info else None,
            "chat_template": bool(info and info.chat_template),
            "chat_template_sha256": info.chat_template_sha256 if info else None,
            "source": self.source,
        }


def _split_parts(first: Path) -> tuple[tuple[Path, ...], int]:
    """The parts of the model whose first file is `first`, and how many are missing."""
    match = _SPLIT.match(first.name)
    if match is None:
        return (first,), 0
    count = int(match["count"])
    width = len(match["index"])
    parts: list[Path] = []
    missing = 0
    for i in range(1, count + 1):
        part = first.with_name(f"{match['stem']}-{i:0{width}d}-of-{match['count']}.gguf")
        if part.is_file():
            parts.append(part)
        else:
            missing += 1
    return tuple(parts) or (first,), missing


def is_later_part(path: Path) -> bool:
    """True for the second and later files of a split model (not listed on their own)."""
    match = _SPLIT.match(path.name)
    return match is not None and int(match["index"]) > 1


def _entry(path: Path, origin: str, sources: dict[str, Any]) -> LibraryEntry:
    parts, missing = _split_parts(path)
    size = 0
    for part in parts:
        try:
            size += part.stat().st_size
        except OSError:
            missing += 1
    info: GGUFInfo | None = None
    problem: str | None = None
    try:
        info = inspect_gguf(path)
    except GGUFPreflightError as exc:
        problem = str(exc)
    if missing and problem is None:
        problem = f"{missing} of the model's {len(parts) + missing} files are missing"
    source = sources.get(path.name) if origin == "folder" else None
    return LibraryEntry(path=path, origin=origin, parts=parts, missing_parts=missing, size=size,
                        info=info, problem=problem,
                        source=source if isinstance(source, dict) else None)


def read_sources(folder: Path | None = None) -> dict[str, Any]:
    """The download records of the model folder ({file name: {...}}); {} if none."""
    try:
        data = json.loads(((folder or models_dir()) / SOURCES_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def imported_paths() -> list[Path]:
    """The imported files, in the order they were imported (missing ones included)."""
    raw = read_config_value(IMPORTED_KEY)
    if not isinstance(raw, list):
        return []
    return [Path(p) for p in raw if isinstance(p, str) and p]


def _key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


def list_models(folder: Path | None = None) -> list[LibraryEntry]:
    """Every model in the library: the model folder's first, by name, then imported files.

    Partial downloads (in the folder's hidden ".partial" subfolder) are never listed.  An
    imported file that has gone away is listed with a problem, so the user can see and remove it.
    """
    folder = folder or models_dir()
    sources = read_sources(folder)
    entries: list[LibraryEntry] = []
    seen: set[str] = set()
    try:
        files = sorted((p for p in folder.iterdir()
                        if p.suffix.lower() == ".gguf" and p.is_file() and not is_later_part(p)),
                       key=lambda p: p.name.casefold())
    except OSError:
        files = []  # no folder yet: nothing in it
    for path in files:
        seen.add(_key(path))
        entries.append(_entry(path, "folder", sources))
    for path in imported_paths():
        if _key(path) in seen:
            continue
        seen.add(_key(path))
        if path.is_file():
            entries.append(_entry(path, "imported", sources))
        else:
            entries.append(LibraryEntry(path=path, origin="imported", parts=(path,),
                                        missing_parts=1, size=0, info=None,
                                        problem="the file is no longer there"))
    return entries


def find_model(name_or_path: str, folder: Path | None = None) -> LibraryEntry:
    """The entry called `name_or_path` (a file name, or a path); raises LibraryError."""
    entries = list_models(folder)
    as_path = Path(name_or_path).expanduser()
    for entry in entries:
        if entry.name == name_or_path or _key(entry.path) == _key(as_path):
            return entry
    folded = [e for e in entries if e.name.casefold() == name_or_path.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise LibraryError(f"No model called {name_or_path!r} in the library "
                       "(see: chatapp models list).")


def import_model(path: Path, folder: Path | None = None) -> LibraryEntry:
    """Add a GGUF file from elsewhere to the library (by reference); returns its entry.

    The header must pass the pre-flight check: a broken file is refused with the reason, so it
    never appears as usable.  A file already in the library is returned as it is.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise LibraryError(f"There is no file at {path}.")
    if path.suffix.lower() != ".gguf":
        raise LibraryError(f"{path.name} is not a GGUF model file (the name should end in "
                           ".gguf).")
    try:
        inspect_gguf(path)
    except GGUFPreflightError as exc:
        raise LibraryError(f"{path.name} is not a usable model file: {exc}") from None
    folder = folder or models_dir()
    if is_later_part(path):
        raise LibraryError(f"{path.name} is a later part of a split model: import its first "
                           "part (…-00001-of-….gguf).")
    for entry in list_models(folder):
        if _key(entry.path) == _key(path):
            return entry
    paths = [str(p) for p in imported_paths()] + [str(path.resolve())]
    write_config_value(IMPORTED_KEY, paths)
    return _entry(path.resolve(), "imported", {})


def remove_model(entry: LibraryEntry) -> None:
    """Take a model out of the library.

    An imported file is only forgotten (it is the user's file, wherever it is); a file in the
    model folder is deleted, with every part of a split model, and its download record.
    """
    if entry.origin == "imported":
        keep = [str(p) for p in imported_paths() if _key(p) != _key(entry.path)]
        write_config_value(IMPORTED_KEY, keep)
        return
    for part in entry.parts:
        try:
            part.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LibraryError(f"{part.name} could not be deleted: "
                               f"{exc.strerror or exc}.") from None
    folder = entry.path.parent
    sources = read_sources(folder)
    if entry.name in sources:
        del sources[entry.name]
        tmp = folder / f"{SOURCES_FILE}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(sources, indent=1), "utf-8")
            os.replace(tmp, folder / SOURCES_FILE)
        except OSError:
            pass  # a stale record names a file that is gone: harmless


@dataclass(frozen=True)
class FileFacts:
    """The slow facts about a model: its hash and whether this llama.cpp can load it.

    Attributes:
        sha256: hex SHA-256 of the first file (each part for split models: `part_sha256`).
        part_sha256: every part's hash, in order.
        support: "ok", "unsupported_architecture", "preflight", "load_error", "crashed",
            or "unknown" (the check could not run).
        support_message: why not, in words ("" when ok).
    """

    sha256: str | None
    part_sha256: tuple[str, ...]
    support: str
    support_message: str


def file_facts(entries: list[LibraryEntry]) -> dict[Path, FileFacts]:
    """Hash every model and check it against the installed llama.cpp (slow: run off the GUI
    thread).  Both are cached, so a second call costs file stats only."""
    from chatapp.engine.hashing import sha256_file
    from chatapp.engine.support_check import check_support

    present = [e for e in entries if e.parts and all(p.is_file() for p in e.parts)]
    try:
        support = check_support([e.path for e in present if e.info is not None],
                                cache_file=cache_dir() / "support.json")
    except Exception as exc:  # the check itself failed: say so, do not hide the library
        reason = f"the check could not run ({type(exc).__name__}: {exc})"
        support = {}
        failure: str | None = reason
    else:
        failure = None
    facts: dict[Path, FileFacts] = {}
    for entry in present:
        hashes: list[str] = []
        for part in entry.parts:
            try:
                hashes.append(sha256_file(part, cache_dir() / "sha256.json"))
            except OSError:
                break
        result = support.get(entry.path)
        if result is not None:
            status, message = result.status, result.message
        elif entry.info is None:
            status, message = "preflight", entry.problem or ""
        else:
            status, message = "unknown", failure or "not checked"
        facts[entry.path] = FileFacts(sha256=hashes[0] if hashes else None,
                                      part_sha256=tuple(hashes), support=status,
                                      support_message=message)
    return facts
