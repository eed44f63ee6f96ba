"""The message protocol between the app and its model process.

Transport: one JSON object per line (UTF-8) — commands on the model process's stdin, events on
its stdout.  The model process moves its C-level stdout onto stderr at start, so nothing but
protocol lines can appear on the channel; stderr carries llama.cpp's warnings and errors, and
the app keeps its tail to explain a crash.

Commands (app → model process); `id` is chosen by the app and echoed by every event it causes:

    {"op": "load", "id": ID, "path": STR, "n_ctx": INT, "n_threads": INT|null,
     "n_threads_batch": INT|null, "n_gpu_layers": INT, "flash_attn": BOOL,
     "rpc": ["HOST:PORT", ...], "split": "auto"|[FLOAT, ...]}   # both optional; see Workers
    {"op": "generate", "id": ID, "messages": [{"role": STR, "content": STR}, ...],
     "sampling": {SamplingSettings fields}, "records": BOOL, "top_n": INT,
     "continue_reply": BOOL}                 # optional, default false; see below
    {"op": "attention", "id": ID,            # capture attention weights; see below
     "messages": [{"role": STR, "content": STR}, ...], "reply_tokens": [INT, ...],
     # or, instead of messages: "tokens": [INT, ...], or "text": STR
     "layers": [INT]|null, "heads": [INT]|null, "max_tokens": INT, "max_bytes": INT}
    {"op": "cancel", "id": ID}          # the generation to stop; takes effect within one token
    {"op": "unload", "id": ID}
    {"op": "status", "id": ID}
    {"op": "devices", "id": ID}         # what llama.cpp can run on; see `devices` below
    {"op": "workers", "id": ID, "endpoints": ["HOST:PORT", ...]}   # probe workers; see Workers
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
     "chosen_rank": INT, "chosen_p": FLOAT, "raw_rank": INT, "raw_p": FLOAT,
     "candidates": [[TOKEN_ID, LOGIT], ...], "candidates_lse": FLOAT}   # see "What-if" below
    {"type": "done", "id": ID, "finish_reason": "stop"|"length"|"stop_string"|"cancelled"
     |"context_full", "text": STR, "tail": STR, "prompt_tokens": INT, "generated_tokens": INT,
     "cached_prompt_tokens": INT, "dropped_messages": INT,
     "time_to_first_token_ms": FLOAT, "tokens_per_s": FLOAT, "seed": INT,
     "cancel_latency_ms": FLOAT (cancelled replies: from the cancel's arrival to the stop),
     # with "records": true, also (see "Records blob" below):
     "records_blob": STR (or "records_error": STR in its place), "records_encode_ms": FLOAT,
     ...}
    {"type": "attention", "id": ID, "path": STR, "tokens": [INT], "pieces": [STR],
     "n_layer": INT, "n_head": INT, "layers": [INT], "heads": [INT], "shape": [L, H, T, T],
     "left_out": STR|null, "capture_ms": FLOAT}
    {"type": "unloaded", "id": ID}
    {"type": "status", "id": ID,
     "state": "idle"|"loading"|"ready"|"generating"|"capturing",
     "model": {...}|null, "pid": INT, "rss_bytes": INT, "versions": {...}}
    {"type": "devices", "id": ID, "backend": STR, "devices": [{...}, ...],
     "devices_note": STR|null, "gpu_offload": BOOL, "cpu_features": [STR, ...],
     "system_info": STR, "engine": {...}}
    {"type": "workers", "id": ID, "workers": [{"endpoint": STR, "ok": BOOL, "error": STR|null,
     "in_use": BOOL, "protocol": STR|null, "devices": [{"index": INT, "name": STR,
     "description": STR, "memory_free": INT, "memory_total": INT}, ...]}, ...]}
    {"type": "error", "id": ID|null, "code": CODE, "message": STR,
     "retry": [{...}, ...]}                  # "retry" only with code "load_memory"; see below

What-if data (token events with records): `candidates` are the 64 highest logits (the token
ids with their logits) as they enter top-k, that is after the penalties (the raw logits when
the penalties are off): the input of the knobs a what-if changes.  Sorted by logit, highest
first; ties by lowest id.  Each logit is a float32 value exactly (the JSON number read as a
double is the float32 logit), also at T = 0.  `candidates_lse`: the log-sum-exp (natural log) of
all the vocabulary's logits at that point, so p_i = exp(logit_i - candidates_lse) is a stored
token's probability over the whole vocabulary at T = 1, and 1 - Σ of those is the mass beyond
the 64.  chatapp.core.whatif.replay turns them into every stage's distribution for other
settings.

Records blob (`done` of a generation with records): every token event's record (the event
without "type" and "id"), encoded by chatapp.storage.records.encode — the storage format, one
version byte and a zlib stream of columns — in base64.  The app stores it as it is, after a
check of its layout, so that it never has to keep a long reply's records as Python objects: the
token events still carry them, for whoever shows them live.  It is made after the last token
(`records_encode_ms`, 0.1-0.2 ms a token, counts in neither `tokens_per_s` nor `total_ms`).
`records_error` replaces the blob when it cannot be sent: a line longer than MAX_LINE (a reply
of tens of thousands of tokens); the app then encodes the records it kept from the token events.

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

`attention`: the post-softmax attention weights the loaded model computes over a token
sequence, replayed in a context of its own (the chat's KV cache is not touched; a capture sent
during a reply runs after it).  The sequence is exactly one of: `messages` — the chat template's
rendering with the generation prompt, tokenized, followed by `reply_tokens` (optional: the ids
of a generated reply, from its token events, to see what the model attended to while writing
it); `tokens` — ids as they are; `text` — plain text tokenized without a template.  Longer than
`max_tokens` (default 1024): the last `max_tokens` are kept.  `layers` / `heads`: indices to
keep (null or absent: all; query heads, also with grouped-query attention).  `max_bytes`
(default 512 MiB) bounds the result: fewer layers are kept (the first asked), then fewer heads
of one layer.  Whatever was cut is said in `left_out` (a sentence; null when nothing was).  The
weights are written to `path`, an NPZ file (`chatapp.paths.cache_dir()/attention/<id>.npz`; the
newest 3 are kept: each can be hundreds of MB): "tokens" int32 (T,), "attention" float32 (L, H,
T, T) indexed [layer slot, head slot, query position, key position] — row i is position i's
attention over positions 0..i, summing to 1, zero above the diagonal — "layers" int32 (L,) and
"heads" int32 (H,) naming each slot.  The event repeats the tokens, with `pieces` (each token's
text, special tokens included, for labels), the model's `n_layer` / `n_head`, and `capture_ms`.
Errors: "not_loaded"; "bad_request" (not exactly one of messages / tokens / text, a layer or
head that does not exist, a token id outside the vocabulary, a budget too small for one head);
"template"; "generation" (the capture or the file failed).

The `loaded` event's model (also `status.model`) describes the file and where it runs, among
other fields: "size_bytes" (the file's size), "weights_bytes" (its tensors' size), "backend"
(the ggml backend that runs the model's layers: "CPU", "CUDA", "Metal", "Vulkan" ...),
"devices": [{"name": STR, "description": STR, "type": "CPU"|"GPU"|"iGPU"|"accelerator"|...,
"backend": STR, "memory_total": INT|null, "memory_free": INT|null}, ...] (every device
llama.cpp can use, memory in bytes, null where unknown; a CPU's free memory is what the system
reports available, as ggml calls all RAM free) and "devices_note": STR|null (why the list came
from the system instead of llama.cpp, when it did).

`devices`: what this build of llama.cpp can run models on, answered at once like `status` (also
while a reply is generating, and with or without a model loaded: free memory is read anew each
time).  "devices" and "devices_note" are as in the model description above; "backend" is the
backend that would run the layers with every layer offloaded (n_gpu_layers -1): "CPU" on a
build without GPU offload; "gpu_offload" says whether layers can go to a GPU of this machine
(runtime.gpu_offload_supported: llama_supports_gpu_offload() is also true for a CPU build with
RPC, which offloads only to other machines); "cpu_features" the
instruction sets the CPU backend was built to use ("AVX2", "FMA", "F16C", "NEON" ...), parsed
from "system_info" (llama_print_system_info()); "engine" the versions, as in `ready`.

Out of memory at load: when llama.cpp cannot allocate what a load needs (the weights, the KV
cache, the compute buffers; in RAM or on a GPU), the error's code is "load_memory" instead of
"load", its message says what could not be allocated ("Not enough memory to load this model
with a 32768-token context (llama.cpp could not allocate 755 MB for the KV cache); try a smaller
context or close other programs."), and "retry" lists settings to try next, most useful first:
dicts of `load` fields to change, each with a "label" for a button, e.g.
[{"n_gpu_layers": 15, "label": "15 GPU layers"}, {"n_gpu_layers": 0, "label": "CPU only"},
{"n_ctx": 4096, "label": "context 4096"}] (see chatapp.engine.memory_retry).  The model
process frees what the failed load took, so the retry can go to the same process.

Memory cap: with CHATAPP_ENGINE_MEMORY_LIMIT=<bytes> in its environment, the model process caps
its own address space at start (RLIMIT_AS, where the platform has it): a way to keep a model
process from taking the whole machine, and to test out-of-memory handling.  Address space is
more than resident memory (thread stacks, malloc arenas and mapped model files count), so the
cap must leave room above what an idle model process maps (about 300-400 MB).  Unset, nothing
is capped.

Workers (llama.cpp RPC, see chatapp.engine.rpc): a load with `rpc` splits the model over those
workers (`chatapp worker` on each machine).  Every layer then goes to the load's device list —
the workers' devices, in the order the endpoints are given (each worker's devices in its order),
then this machine's GPUs — and `n_gpu_layers` is not used; this machine's CPU keeps the token
embeddings and samples.  `split`: "auto" (the default: by each device's free memory, llama.cpp's
own rule; a CPU worker counts all its RAM as free) or one proportion per device of that list
([1, 3]: a quarter of the layers on the first).  A split without `rpc` is a "bad_request", as is
one whose length is not the number of devices.  Each worker is probed before llama.cpp touches
it (llama.cpp aborts on a worker it cannot reach): one that cannot be used fails the load with
code "rpc" and a message saying why in words (nothing listens there; it does not answer; it is
busy with another client, as a worker serves one at a time; another protocol version; a build
without RPC).  A worker that dies while the model uses it makes llama.cpp abort the model
process: the app gets "crashed", whose message names the worker(s) that stopped answering and
says the model can be loaded again, here or with the remaining workers.

The `loaded` event's model (and `status.model`) also has "rpc" (the workers, normalised
"host:port"), "split" ("auto" or the proportions) and "devices_used": where the model went, per
device, from llama.cpp's own load log (its "layer N assigned to device X" and "... model
buffer size = ... MiB" lines): [{"name": "RPC0"|"CUDA0"|"CPU"..., "description": STR,
"endpoint": "host:port"|null (null: this machine), "type": STR, "memory_free": INT|null,
"memory_total": INT|null (before the load), "layers": [FIRST, LAST]|null (its repeating
layers), "n_layers": INT, "output_layer": BOOL, "input_layer": BOOL (the token embeddings:
this machine's CPU), "weights_bytes": INT|null, "kv_bytes": INT|null, "compute_bytes": INT|null
(llama.cpp's buffer sizes), "layers_from": "llama.cpp"|"computed" (the split rule applied here,
only when the log named no layer)}, ...]: the load's devices in order, then this machine's
CPU; without workers, the devices that got something, and the CPU.

`workers`: probes each endpoint in plain Python, the way llama.cpp would (connect, the
protocol's handshake, its device count and each device's memory), without loading anything; a
worker the loaded model uses is reported from the load ("in_use": true; a worker cannot answer
a second client) after a check that it still accepts connections, with llama.cpp's device
names ("RPC0" ...); a probed device is named "device N" (its number on the worker: the protocol
does not say what it is) and described by the endpoint, as llama.cpp describes RPC devices.
An endpoint that cannot be used has "ok": false and "error" in words.  Answered without
waiting for a reply in progress.
Errors: "rpc" (a build without RPC, a malformed endpoint), "bad_request".

Error codes: "bad_request", "preflight" (the file failed the header check), "load" (llama.cpp
refused the file), "load_memory" (out of memory at load, with "retry"), "rpc" (a worker cannot
be used, or this build has no RPC; see Workers), "not_loaded", "busy",
"template" (the chat template failed or was stopped), "generation", "internal", and — produced
by the app side, not the model process — "crashed" (the model process died; the message names
the signal or exit code and llama.cpp's last words), "timeout".
"""

from __future__ import annotations

import json
from typing import Any

OPS = frozenset(
    {"load", "generate", "attention", "cancel", "unload", "status", "devices", "workers",
     "shutdown"}
)
EVENTS = frozenset(
    {"ready", "progress", "loaded", "context", "token", "done", "attention", "unloaded",
     "status", "devices", "workers", "error"}
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
