"""The message protocol between the app and its model process.

Transport: one JSON object per line (UTF-8) — commands on the model process's stdin, events on
its stdout.  The model process moves its C-level stdout onto stderr at start, so nothing but
protocol lines can appear on the channel; stderr carries llama.cpp's warnings and errors, and
the app keeps its tail to explain a crash.

Commands (app → model process); `id` is chosen by the app and echoed by every event it causes:

    {"op": "load", "id": ID, "path": STR, "n_ctx": INT, "n_threads": INT|null,
     "n_threads_batch": INT|null, "n_gpu_layers": INT, "flash_attn": BOOL}
    {"op": "generate", "id": ID, "messages": [{"role": STR, "content": STR}, ...],
     "sampling": {SamplingSettings fields}, "records": BOOL, "top_n": INT,
     "continue_reply": BOOL}                 # optional, default false; see below
    {"op": "cancel", "id": ID}          # the generation to stop; takes effect within one token
    {"op": "unload", "id": ID}
    {"op": "status", "id": ID}
    {"op": "shutdown", "id": ID}

Events (model process → app):

    {"type": "ready", "pid": INT, "versions": {...}}               # once, at start
    {"type": "progress", "id": ID, "progress": FLOAT}              # while loading, 0..1
    {"type": "loaded", "id": ID, "model": {...}, "sha256": STR, "load_ms": FLOAT}
    {"type": "context", "id": ID, "prompt_tokens": INT, "n_ctx": INT, "reserve": INT,
     "dropped_messages": INT}                # once per generate, before its first token
    {"type": "token", "id": ID, "i": INT, "token": INT, "piece": STR, "text": STR,
     "t_ms": FLOAT, "sample_ms": FLOAT,
     # with "records": true, also:
     "stages": [{"name": STR, "active": BOOL, "survivors": INT,
                 "top": [[TOKEN_ID, TEXT, P], ...]}, ...],
     "chosen_rank": INT, "chosen_p": FLOAT, "raw_rank": INT, "raw_p": FLOAT}
    {"type": "done", "id": ID, "finish_reason": "stop"|"length"|"stop_string"|"cancelled"
     |"context_full", "text": STR, "tail": STR, "prompt_tokens": INT, "generated_tokens": INT,
     "cached_prompt_tokens": INT, "dropped_messages": INT,
     "time_to_first_token_ms": FLOAT, "tokens_per_s": FLOAT, "seed": INT,
     "cancel_latency_ms": FLOAT (cancelled replies: from the cancel's arrival to the stop), ...}
    {"type": "unloaded", "id": ID}
    {"type": "status", "id": ID, "state": "idle"|"loading"|"ready"|"generating",
     "model": {...}|null, "pid": INT, "rss_bytes": INT, "versions": {...}}
    {"type": "error", "id": ID|null, "code": CODE, "message": STR}

A token event's `text` is what may be shown now: whole UTF-8 characters, with text that could
begin a stop string held back; `done.tail` is the rest.  `piece` is the token's own text.

Fitting the context: a conversation longer than the context is sent without its oldest whole
turns (a user message and the replies after it); the leading system message(s) and the last
message (the last two with `continue_reply`) are always kept.  `reserve` tokens are kept free
for the reply: min(max_tokens, n_ctx // 4), at least 1.  The `context` event says what was sent:
`prompt_tokens` (the prompt after fitting, <= n_ctx - reserve) and `dropped_messages` (how many
messages were left out, also in `done`).  When even the kept messages do not fit, the answer is
an error with code "generation" whose message says so in words.  `cached_prompt_tokens`: prompt
tokens whose keys and values were already in the KV cache (a common prefix with the last run).

`continue_reply`: the last message must be the assistant's (else "bad_request"); the prompt is
the template's rendering of the messages before it, with the generation prompt, followed by that
message's text as it is, and the reply streamed (token events, `done.text`) is only what the
model adds to it.

The `loaded` event's model (also `status.model`) describes the file and where it runs, among
other fields: "size_bytes" (the file's size), "weights_bytes" (its tensors' size), "backend"
(the ggml backend that runs the model's layers: "CPU", "CUDA", "Metal", "Vulkan" ...),
"devices": [{"name": STR, "description": STR, "type": "CPU"|"GPU"|"iGPU"|"accelerator"|...,
"backend": STR, "memory_total": INT|null, "memory_free": INT|null}, ...] (every device
llama.cpp can use, memory in bytes, null where unknown; a CPU's free memory is what the system
reports available, as ggml calls all RAM free) and "devices_note": STR|null (why the list came
from the system instead of llama.cpp, when it did).

Error codes: "bad_request", "preflight" (the file failed the header check), "load" (llama.cpp
refused the file), "not_loaded", "busy", "template" (the chat template failed or was stopped),
"generation", "internal", and — produced by the app side, not the model process — "crashed"
(the model process died; the message names the signal or exit code and llama.cpp's last words),
"timeout".
"""

from __future__ import annotations

import json
from typing import Any

OPS = frozenset({"load", "generate", "cancel", "unload", "status", "shutdown"})
EVENTS = frozenset(
    {"ready", "progress", "loaded", "context", "token", "done", "unloaded", "status", "error"}
)

#: Longest line accepted from the other side (a token event with records is a few KB).
MAX_LINE = 16 * 1024 * 1024


class ProtocolError(ValueError):
    """A line that is not a valid protocol message."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of UTF-8 JSON."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def decode(line: bytes, kinds: frozenset[str], key: str) -> dict[str, Any]:
    """Parse one line; `key` is "op" for commands, "type" for events."""
    if len(line) > MAX_LINE:
        raise ProtocolError(f"message of {len(line)} bytes is too long")
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or message.get(key) not in kinds:
        raise ProtocolError(f"unknown message: {line[:200]!r}")
    return message


def error(req_id: str | None, code: str, message: str) -> dict[str, Any]:
    """An error event."""
    return {"type": "error", "id": req_id, "code": code, "message": message}
