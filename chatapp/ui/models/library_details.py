"""The Library tab's details pane: every fact known about one model, as label/value rows.

The rows are rendered as an HTML table in which every value is escaped: names, paths and
messages come from the model file and must stay inert text.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QObject

from chatapp.core.units import format_bytes, format_params
from chatapp.models.library import FileFacts, LibraryEntry
from chatapp.ui.models.common import one_line, plain

#: Support check outcomes that mean the file cannot be loaded ("unknown" can: the check
#: itself failed, the model process is still safe to try it).
NOT_LOADABLE = frozenset({"unsupported_architecture", "preflight", "load_error", "crashed"})


def rows_html(rows: list[tuple[str, str]]) -> str:
    """The rows as a two-column HTML table, every label and value escaped."""
    body = "".join(
        f"<tr><td style='padding:3px 12px 3px 0; white-space:nowrap'><b>"
        f"{html.escape(label)}</b></td><td style='padding:3px 0'>"
        f"{html.escape(value).replace(chr(10), '<br>')}</td></tr>" for label, value in rows)
    return f"<table cellspacing='0'>{body}</table>"


class LibraryDetails(QObject):
    """Builds the details of a library entry in the current language."""

    def rows(self, entry: LibraryEntry, facts: FileFacts | None,
             facts_error: str | None) -> list[tuple[str, str]]:
        """(label, value) pairs of everything known about `entry`; `facts` None while the
        slow facts are computed (`facts_error`: why they could not be)."""
        info = entry.info
        rows: list[tuple[str, str]] = [(self.tr("Name"), one_line(entry.name))]
        if entry.problem is not None:
            rows.append((self.tr("Problem"), plain(entry.problem)))
        if info is not None:
            if info.name:
                rows.append((self.tr("Model name"), one_line(info.name)))
            rows.append((self.tr("Architecture"), one_line(info.architecture or "?")))
            rows.append((self.tr("Parameters"), f"{format_params(info.parameter_count)} "
                                                f"({info.parameter_count:,})"))
            rows.append((self.tr("Quantization"), one_line(info.quantization)))
            if info.context_length:
                rows.append((self.tr("Trained context"),
                             self.tr("{n} tokens").format(n=f"{info.context_length:,}")))
            for label, value in ((self.tr("Layers"), info.block_count),
                                 (self.tr("Attention heads"), info.head_count),
                                 (self.tr("Key/value heads"), info.head_count_kv),
                                 (self.tr("Embedding size"), info.embedding_length),
                                 (self.tr("Vocabulary"), info.vocab_size),
                                 (self.tr("Sliding window"), info.sliding_window),
                                 (self.tr("Tensors"), info.tensor_count)):
                if value is not None:
                    rows.append((label, f"{value:,}"))
            if info.file_type:
                rows.append((self.tr("File type"), one_line(info.file_type)))
            rows.append((self.tr("GGUF version"), str(info.version)))
            rows.append((self.tr("Chat template"),
                         self.tr("yes (SHA-256 {hash})").format(hash=info.chat_template_sha256)
                         if info.chat_template_sha256 else
                         self.tr("no (a generic ChatML template is used)")))
        rows.append((self.tr("Size"), self.tr("{size} ({n} bytes)").format(
            size=format_bytes(entry.size), n=f"{entry.size:,}")))
        if len(entry.parts) > 1 or entry.missing_parts:
            rows.append((self.tr("Files"), self.tr("{n} parts, {missing} missing").format(
                n=len(entry.parts) + entry.missing_parts, missing=entry.missing_parts)))
        rows.append((self.tr("Source"), self._source_text(entry)))
        rows.append((self.tr("SHA-256"), self._hash_text(entry, facts, facts_error)))
        rows.append((self.tr("llama.cpp support"), self._support_text(entry, facts, facts_error)))
        rows.append((self.tr("Path"), one_line(entry.path)))
        return rows

    def _source_text(self, entry: LibraryEntry) -> str:
        src = entry.source or {}
        if src.get("repo_id"):
            revision = one_line(src.get("revision") or "?")
            return self.tr("Downloaded from {repo} (revision {revision}, file {path})").format(
                repo=one_line(src["repo_id"]), revision=revision[:12],
                path=one_line(src.get("path") or entry.name))
        if entry.origin == "imported":
            return self.tr("Imported: the file stays where it is")
        return self.tr("Put in the models folder by hand (no download record)")

    def _hash_text(self, entry: LibraryEntry, facts: FileFacts | None,
                   facts_error: str | None) -> str:
        if facts is None:
            if not entry.parts or entry.missing_parts:
                return self.tr("not computed (files are missing)")
            return facts_error or self.tr("computing…")
        if facts.sha256 is None:
            return self.tr("could not be computed (the file could not be read)")
        if len(facts.part_sha256) > 1:
            return "\n".join(self.tr("part {i}: {hash}").format(i=i, hash=h)
                             for i, h in enumerate(facts.part_sha256, 1))
        return facts.sha256

    def _support_text(self, entry: LibraryEntry, facts: FileFacts | None,
                      facts_error: str | None) -> str:
        if facts is None:
            if entry.problem is not None:
                return self.tr("not checked (the file is not usable)")
            return facts_error or self.tr("checking…")
        if facts.support == "ok":
            return self.tr("supported")
        if facts.support in NOT_LOADABLE:
            return self.tr("not supported: {why}").format(why=plain(facts.support_message))
        return self.tr("not checked: {why}").format(why=plain(facts.support_message))
