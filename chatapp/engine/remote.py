"""Chat with a model served by an OpenAI-compatible server (llama-server, llama-cpp-python's
server, vLLM, Ollama ...), through the same events as the local model process.

No Qt here.  `RemoteEngine` offers the part of `EngineClient` the GUI uses (`send`, `cancel`,
`shutdown`, `alive`, `start`, and the blocking `load` / `generate`), runs every command on a
thread of its own, one at a time, and reports through `on_event` with the event shapes of
chatapp.engine.protocol.  HTTP is the standard library's (`http.client`); replies are streamed
as server-sent events (`data:` lines, ended by `data: [DONE]`).  Proxy variables
(`HTTP_PROXY` ...) are not read: the servers this is for run on the machine or the local network.

How the protocol maps onto the server (the additions to protocol.py for a remote model):

    load       {"base_url": STR, "model": STR, "api_key": STR|null, "stored_key": BOOL,
                "probabilities": BOOL (default true)}
               → GET <base>/models; the model must be listed (with one model served, an empty
               "model" takes it).  `loaded.model` = {"name", "backend": "remote", "endpoint",
               "n_ctx" (vLLM's max_model_len, llama-server's /props; else null), the other
               fields of a local model null, plus what the server's list says about the
               model ("n_ctx_train", "parameters", "size_bytes", "n_vocab" from llama-server's
               "meta", "owned_by"), "probabilities"}; `loaded.sha256` is null.  With
               `stored_key` and no `api_key`, the key saved for the base URL
               (chatapp.core.secrets) is used.
    generate   → POST <base>/chat/completions, "stream": true, with the sampling settings as
               `request_fields` maps them; with "records": true (and "probabilities" at load)
               also "logprobs": true and "top_logprobs": min(top_n, 20).  No `context` event
               (the server fits the prompt; its size is known only from the usage at the end,
               when the server sends it).
               "continue_reply": true is refused ("remote_unsupported"): the OpenAI API has no
               portable way to extend an assistant message.
    attention, devices → "remote_unsupported" (they need llama.cpp in this app's process).
    cancel     → closes the stream (the server sees the client go and stops); `done` follows
               with "finish_reason": "cancelled".
    unload     → forgets the connection; `unloaded`.
    status     → state "ready" (a model chosen) or "idle", "model", "pid": null.

Token events: one per token when the server reports logprobs (one per `logprobs.content`
entry), else one per streamed text chunk (often one token, sometimes more).  Token ids are not
sent over HTTP: "token" is a stand-in, a negative number given to each distinct token text of
the reply in order of first appearance (-1, -2 ...; the same text, the same id, within one
reply only), which keeps them apart from real vocabulary ids.  "piece" and "text" are the text
the server sent; no "sample_ms".  With logprobs, the event also carries a record: one stage
named "server" — the top candidates as the server reports them, a distribution observed at
one point of the server's chain (llama.cpp-based servers and vLLM compute logprobs from the
model's raw logits, before the sampling settings; others may differ), "survivors": -1 (not
known) — with "chosen_p" (exp of the chosen token's logprob) and "chosen_rank" (its place in
that list, -1 when it is not listed); no other stage, no what-if "candidates".  `done` then
carries a "records_blob" made of those records.

`done` carries "model_name" and "endpoint" (the API base URL without credentials), "sampling"
and "seed" (a seed is always sent: one is drawn when the settings have none), "tokens_per_s"
and "time_to_first_token_ms" measured here (network included), "finish_reason" as the server
gives it ("stop", "length" ... or "cancelled"), "prompt_tokens" / "generated_tokens" from the
server's usage when it sends one ("stream_options": {"include_usage": true} asks for it), else
null / the count of token events, "n_ctx" when known, and "dropped_messages": 0.

Errors (event code, and `RemoteError.code`): "remote_offline" (no connection, the connection
was lost, or the server went silent for longer than the read timeout), "remote_auth" (HTTP
401/403), "remote_http" (any other HTTP error, an answer that is not what the API describes, a
model the server does not list, an address that is not http(s)), "remote_unsupported" (see
above); "not_loaded" (no server chosen), "bad_request" (malformed command), as locally.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import itertools
import json
import math
import queue
import random
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import chatapp
from chatapp.core.sampling import SamplingSettings
from chatapp.engine import protocol
from chatapp.storage import records as record_codec

EventCallback = Callable[[dict[str, Any]], None]

#: Seconds to wait for a connection.
CONNECT_TIMEOUT = 10.0
#: Seconds a server may stay silent in the middle of an answer (a large prompt on a slow
#: server takes a while before its first token).
READ_TIMEOUT = 300.0
#: The most top logprobs the OpenAI API allows per token.
MAX_TOP_LOGPROBS = 20
#: Longest line accepted from a server (an event with 20 top logprobs is a few KB).
MAX_LINE = protocol.MAX_LINE
#: Largest body read from a non-streamed answer (a model list, an error).
MAX_BODY = 16 * 1024 * 1024
#: Name of the stage a server's logprobs fill (see the module docstring).
SERVER_STAGE = "server"

_TRANSPORT_KEYS = frozenset({"type", "id"})


class RemoteError(Exception):
    """A server could not be used.

    Attributes:
        code: "remote_offline", "remote_auth", "remote_http" or "remote_unsupported".
        message: one sentence for the user (never contains an API key).
    """

    def __init__(self, code: str, message: str) -> None:
        """Keep the code apart from the message."""
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    """Where a server's OpenAI API is, parsed from the base URL a user typed.

    Attributes:
        scheme: "http" or "https".
        host: host name or address (IPv6 without brackets).
        port: the port (the scheme's default when none was given).
        path: the API's path prefix, ending in "/v1" (or whatever the user gave that ends in
            it), without a trailing slash.
        username, password: credentials written into the URL, for HTTP basic authentication
            (never shown: `url` leaves them out).
    """

    scheme: str
    host: str
    port: int
    path: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def netloc(self) -> str:
        """host:port as a URL writes it (brackets around an IPv6 address)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL without credentials: what provenance and messages show."""
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def root(self) -> str:
        """The path prefix without the final "/v1" (where llama-server's /props is)."""
        return self.path[: -len("/v1")] if self.path.endswith("/v1") else self.path


def parse_base_url(base_url: str) -> Endpoint:
    """The endpoint of a base URL such as "http://127.0.0.1:8080" or "https://host/v1".

    "/v1" is added unless the path already ends with it.  Raises RemoteError ("remote_http")
    for anything that is not an http(s) URL with a host.
    """
    text = base_url.strip()
    if "://" not in text:
        text = "http://" + text  # "127.0.0.1:8080" is what people type
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise RemoteError("remote_http", f"“{_shown(base_url)}” is not a server address: give "
                          "one like http://127.0.0.1:8080.")
    scheme = parts.scheme.lower()
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return Endpoint(
        scheme=scheme, host=parts.hostname, port=port or (443 if scheme == "https" else 80),
        path=path,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password is not None else None)


def endpoint_of(base_url: str) -> str:
    """The API base URL without credentials (see `Endpoint.url`)."""
    return parse_base_url(base_url).url


def server_label(model: str, base_url: str) -> str:
    """How a served model is named in menus: "model @ host:port" (a model id that is a file
    path is shortened to the file's name)."""
    name = model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or model
    try:
        where = parse_base_url(base_url).netloc
    except RemoteError:
        where = base_url
    return f"{name} @ {where}"


def request_fields(s: SamplingSettings, seed: int) -> dict[str, Any]:
    """The chat-completion fields for sampling settings.

    Sent as the OpenAI API names them: temperature, top_p, max_tokens, seed, presence_penalty,
    frequency_penalty, stop.  Sent as extra fields that llama.cpp-based servers (llama-server,
    llama-cpp-python) read and vLLM reads except repeat_penalty: top_k, min_p, repeat_penalty.
    Not sent: penalty_last_n (no common field; the server's own default applies).  OpenAI's
    own API refuses the extra fields; the servers this is for accept or ignore them.
    """
    fields: dict[str, Any] = {
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_tokens": s.max_tokens,
        "seed": seed,
        "presence_penalty": s.presence_penalty,
        "frequency_penalty": s.frequency_penalty,
        "top_k": s.top_k,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
    }
    if s.stop:
        fields["stop"] = list(s.stop)
    return fields


def token_record(entry: dict[str, Any], ids: dict[str, int], top_n: int) -> dict[str, Any]:
    """One token's record from a `logprobs.content` entry: the "server" stage with the top
    candidates (stand-in ids from `ids`, see the module docstring), "chosen_p", "chosen_rank".

    Candidates are listed most likely first, one per text (a server that lists one text twice
    keeps the likelier), at most `top_n`.  Malformed entries are skipped.
    """
    chosen = entry.get("token")
    chosen_text = chosen if isinstance(chosen, str) else ""
    best: dict[str, float] = {}
    for item in entry.get("top_logprobs") or ():
        if not isinstance(item, dict):
            continue
        text, logprob = item.get("token"), item.get("logprob")
        if not isinstance(text, str) or not _is_number(logprob):
            continue
        best[text] = max(float(logprob), best.get(text, -math.inf))
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:max(top_n, 0)]
    top = [[stand_in_id(ids, text), text, _probability(lp)] for text, lp in ranked]
    rank = next((k for k, (text, _lp) in enumerate(ranked) if text == chosen_text), -1)
    logprob = entry.get("logprob")
    chosen_p = _probability(float(logprob)) if _is_number(logprob) else (
        top[rank][2] if rank >= 0 else 0.0)
    return {
        "stages": [{"name": SERVER_STAGE, "active": True, "survivors": -1, "top": top}],
        "chosen_rank": rank,
        "chosen_p": chosen_p,
    }


def stand_in_id(ids: dict[str, int], text: str) -> int:
    """The stand-in token id of `text` within one reply (see the module docstring)."""
    found = ids.get(text)
    if found is None:
        found = ids[text] = -(len(ids) + 1)
    return found


def sse_data(readline: Callable[[], bytes]) -> Iterator[str]:
    """The `data` of each server-sent event read through `readline` (which returns b"" at the
    end of the stream).  Several data lines of one event are joined with newlines; comments
    (": ping"), "event:", "id:" and "retry:" lines are skipped.  Raises RemoteError
    ("remote_http") for a line longer than MAX_LINE."""
    data: list[str] = []
    while True:
        raw = readline()
        if not raw:
            if data:
                yield "\n".join(data)
            return
        if len(raw) >= MAX_LINE and not raw.endswith(b"\n"):
            raise RemoteError("remote_http", f"The server sent a line longer than "
                              f"{MAX_LINE // 2**20} MB: it is not an event stream.")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)


def list_models(base_url: str, api_key: str | None = None, *,
                timeout: float = CONNECT_TIMEOUT) -> list[str]:
    """The ids of the models a server lists at <base>/models.  Raises RemoteError."""
    return [str(entry["id"]) for entry in _model_entries(parse_base_url(base_url), api_key,
                                                         timeout)]


# -- HTTP -------------------------------------------------------------------------------------


def _shown(text: str, limit: int = 120) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


def _probability(logprob: float) -> float:
    """exp(logprob) as a probability the records store exactly (in [0, 1], 6 decimals)."""
    return round(min(1.0, max(0.0, math.exp(min(logprob, 0.0)))), 6)


def _headers(ep: Endpoint, api_key: str | None, accept: str) -> dict[str, str]:
    headers = {"Accept": accept, "User-Agent": f"chatapp/{chatapp.__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    elif ep.username is not None or ep.password is not None:
        pair = f"{ep.username or ''}:{ep.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return headers


def _connection(ep: Endpoint, timeout: float) -> http.client.HTTPConnection:
    if ep.scheme == "https":
        return http.client.HTTPSConnection(ep.host, ep.port, timeout=timeout,
                                           context=ssl.create_default_context())
    return http.client.HTTPConnection(ep.host, ep.port, timeout=timeout)


def _open(
    ep: Endpoint, method: str, path: str, api_key: str | None, body: dict[str, Any] | None,
    *, connect_timeout: float, read_timeout: float, accept: str = "application/json",
    started: Callable[[http.client.HTTPConnection], None] | None = None,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send one request and return the connection and the response's head (status 2xx).

    `started` gets the connection before it connects (so that another thread can close it).
    Raises RemoteError with the code and the sentence for what went wrong.
    """
    conn = _connection(ep, connect_timeout)
    if started is not None:
        started(conn)
    headers = _headers(ep, api_key, accept)
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    where = ep.url
    timeout = connect_timeout
    try:
        conn.connect()
        timeout = read_timeout
        if conn.sock is not None:
            conn.sock.settimeout(read_timeout)
        conn.request(method, ep.path + path, body=data, headers=headers)
        resp = conn.getresponse()
    except Exception as exc:
        conn.close()
        raise _network_error(exc, where, timeout) from None
    if 200 <= resp.status < 300:
        return conn, resp
    try:
        detail = _error_detail(resp.read(64 * 1024))
    except (OSError, http.client.HTTPException):
        detail = ""
    finally:
        conn.close()
    raise _status_error(resp.status, resp.reason, detail, where, path, bool(api_key))


def _network_error(exc: Exception, where: str, timeout: float) -> RemoteError:
    """The RemoteError for a failure of the connection (`timeout`: the one in effect)."""
    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, ConnectionRefusedError):
        return RemoteError("remote_offline", f"Could not connect to the server at {where} "
                           "(connection refused): check that it is running and that the "
                           "address is right.")
    if isinstance(exc, socket.gaierror):
        return RemoteError("remote_offline", f"Could not find the server at {where} (unknown "
                           "host name): check the address and the network.")
    if isinstance(exc, TimeoutError):
        return RemoteError("remote_offline", f"The server at {where} did not answer within "
                           f"{timeout:.0f} s: check that it is running and not overloaded.")
    if isinstance(exc, ssl.SSLError):
        return RemoteError("remote_http", f"The secure connection to {where} failed "
                           f"({_shown(exc.reason or str(exc))}): check the address (http or "
                           "https) and the server's certificate.")
    if isinstance(exc, http.client.HTTPException):
        return RemoteError("remote_http", f"The server at {where} did not answer in HTTP "
                           f"({type(exc).__name__}): check that the address is the API's.")
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return RemoteError("remote_offline", f"The connection to the server at {where} "
                           f"failed ({_shown(reason)}): check that it is running and "
                           "reachable.")
    return RemoteError("remote_http", f"Talking to the server at {where} failed "
                       f"({_shown(type(exc).__name__ + ': ' + str(exc))}).")


def _status_error(status: int, reason: str, detail: str, where: str, path: str,
                  sent_key: bool) -> RemoteError:
    if detail.casefold() == (reason or "").casefold():
        detail = ""  # "Not Found: Not Found" says nothing twice
    said = f"HTTP {status}" + (f": {detail}" if detail else f" {reason}" if reason else "")
    if status in (401, 403):
        if sent_key:
            return RemoteError("remote_auth", f"The server at {where} refused the API key "
                               f"({said}): enter the right key in “Connect to a server…”.")
        return RemoteError("remote_auth", f"The server at {where} needs an API key ({said}): "
                           "enter it in “Connect to a server…”.")
    if status == 404 and not detail:
        return RemoteError("remote_http", f"The server at {where} has no {path.lstrip('/')} "
                           f"({said}): check that the address is the server's base URL, "
                           "such as http://127.0.0.1:8080.")
    return RemoteError("remote_http", f"The server at {where} answered {said} to "
                       f"{path.lstrip('/')}: check the address, the model name and the "
                       "server's log.")


def _error_detail(body: bytes) -> str:
    """The message of an error body: OpenAI's {"error": {"message"}}, FastAPI's {"detail"},
    or the text itself; one line, shortened."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return _shown(text, 200)
    message: object = data
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error
        elif error is not None:
            message = error
        elif "detail" in data:
            message = data["detail"]
        elif "message" in data:
            message = data["message"]
    return _shown(message if isinstance(message, str) else json.dumps(message), 200)


def _read_json(resp: http.client.HTTPResponse, where: str) -> Any:
    body = resp.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise RemoteError("remote_http", f"The server at {where} sent an answer larger than "
                          f"{MAX_BODY // 2**20} MB: it does not look like the OpenAI API.")
    try:
        return json.loads(body)
    except ValueError:
        raise RemoteError("remote_http", f"The server at {where} answered something that is "
                          "not JSON: check that the address is an OpenAI-compatible "
                          "API.") from None


def _get_json(ep: Endpoint, path: str, api_key: str | None, timeout: float) -> Any:
    conn, resp = _open(ep, "GET", path, api_key, None, connect_timeout=timeout,
                       read_timeout=timeout)
    try:
        return _read_json(resp, ep.url)
    except (OSError, http.client.HTTPException) as exc:
        raise _network_error(exc, ep.url, timeout) from None
    finally:
        conn.close()


def _model_entries(ep: Endpoint, api_key: str | None, timeout: float) -> list[dict[str, Any]]:
    data = _get_json(ep, "/models", api_key, timeout)
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RemoteError("remote_http", f"The server at {ep.url} answered models without "
                          "a list of them: check that it is an OpenAI-compatible API.")
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


def _model_dict(ep: Endpoint, name: str, entry: dict[str, Any], n_ctx: int | None
                ) -> dict[str, Any]:
    """The `loaded` event's model for a served model (see the module docstring)."""
    given = entry.get("meta")
    meta: dict[str, Any] = given if isinstance(given, dict) else {}

    def count(value: object) -> int | None:
        positive = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return value if positive and isinstance(value, int) else None

    return {
        "name": name, "backend": "remote", "endpoint": ep.url,
        "n_ctx": n_ctx,
        "path": None, "architecture": None, "quantization": None, "n_layer": None,
        "n_head": None, "n_threads": None, "n_gpu_layers": None,
        "parameters": count(meta.get("n_params")),
        "size_bytes": count(meta.get("size")),
        "n_vocab": count(meta.get("n_vocab")),
        "n_ctx_train": count(meta.get("n_ctx_train")),
        "owned_by": entry.get("owned_by") if isinstance(entry.get("owned_by"), str) else None,
    }


def _served_context(ep: Endpoint, api_key: str | None, entry: dict[str, Any],
                    timeout: float) -> int | None:
    """The context length the server runs the model with, when it says: vLLM's
    "max_model_len" in the model list, llama-server's /props."""
    value = entry.get("max_model_len")
    if isinstance(value, int) and value > 0:
        return value
    if not isinstance(entry.get("meta"), dict) and entry.get("owned_by") != "llamacpp":
        return None  # not llama-server: no /props to ask
    props_ep = Endpoint(ep.scheme, ep.host, ep.port, ep.root, ep.username, ep.password)
    try:
        props = _get_json(props_ep, "/props", api_key, timeout)
    except RemoteError:
        return None
    if not isinstance(props, dict):
        return None
    settings = props.get("default_generation_settings")
    for source in (settings, props):
        n = source.get("n_ctx") if isinstance(source, dict) else None
        if isinstance(n, int) and n > 0:
            return n
    return None


# -- the engine -------------------------------------------------------------------------------


@dataclass
class _Target:
    """The server and model commands go to."""

    endpoint: Endpoint
    model: str
    api_key: str | None = field(default=None, repr=False)
    n_ctx: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: Ask for logprobs (the sampling view's records): llama-cpp-python's server sorts the
    #: whole vocabulary per token for them and generates about 3x slower.
    probabilities: bool = True


class _Stream:
    """One streamed reply in progress: its text, events and timings."""

    def __init__(self, req_id: str, records: bool, top_n: int) -> None:
        """A reply about to be requested (`records`: keep the logprobs as records)."""
        self.req_id = req_id
        self.records = records
        self.top_n = top_n
        self.t0 = time.perf_counter()
        self.t_first: float | None = None
        self.text = ""
        self.n = 0
        self.ids: dict[str, int] = {}
        self.kept: list[dict[str, Any]] = []
        self.finish: str | None = None
        self.usage: dict[str, Any] = {}

    def token_events(self, content: str, logprobs: object) -> list[dict[str, Any]]:
        """The token events of one chunk: one per logprobs entry, else one for the text."""
        listed = logprobs.get("content") if isinstance(logprobs, dict) else None
        entries = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
        events: list[dict[str, Any]] = []
        if not entries:
            if content:
                events.append(self._event(content, content, None))
            return events
        pieces = [t if isinstance(t := e.get("token"), str) else "" for e in entries]
        # Each entry's own text when they add up to the chunk's text; else the text goes
        # with the last entry, so that the events' texts are always exactly the reply.
        exact = "".join(pieces) == content
        for k, (entry, piece) in enumerate(zip(entries, pieces, strict=True)):
            text = piece if exact else (content if k == len(entries) - 1 else "")
            events.append(self._event(piece, text, entry))
        return events

    def _event(self, piece: str, text: str, entry: dict[str, Any] | None) -> dict[str, Any]:
        """One token event (with its record when `entry` has logprobs and records are on)."""
        now = time.perf_counter()
        if self.t_first is None:
            self.t_first = now
        event: dict[str, Any] = {
            "type": "token", "id": self.req_id, "i": self.n,
            "token": stand_in_id(self.ids, piece), "piece": piece, "text": text,
            "t_ms": round((now - self.t0) * 1000, 3),
        }
        if entry is not None and self.records:
            event.update(token_record(entry, self.ids, self.top_n))
            self.kept.append({k: v for k, v in event.items() if k not in _TRANSPORT_KEYS})
        self.n += 1
        self.text += text
        return event


class RemoteEngine:
    """A model on an OpenAI-compatible server, behind the model process's events.

    Commands run one at a time on the engine's own thread; events reach `on_event` from that
    thread (and the blocking `load` / `generate`).  Request ids are "remote-1", "remote-2" ...,
    never those of a local model process.

    Attributes:
        connect_timeout, read_timeout: seconds (see CONNECT_TIMEOUT, READ_TIMEOUT).
    """

    def __init__(self, *, on_event: EventCallback | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT) -> None:
        """No server yet (`connect`, or a `load` command, chooses one)."""
        self._on_event = on_event
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._ids = itertools.count(1)
        self._commands: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue()
        self._pending: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._target: _Target | None = None
        self._running: str | None = None  # the generation being streamed
        self._conn: http.client.HTTPConnection | None = None
        self._cancelled_at: dict[str, float] = {}

    # -- lifetime -------------------------------------------------------------------------------

    def connect(self, base_url: str, api_key: str | None, model: str) -> None:
        """Send later commands to `model` on the server at `base_url` (nothing is sent now;
        a `load` checks that the server lists the model).  Raises RemoteError for an address
        that is not http(s)."""
        self._target = _Target(parse_base_url(base_url), model, api_key or None)

    @property
    def endpoint(self) -> str | None:
        """The API base URL of the server in use, without credentials (None: none)."""
        return self._target.endpoint.url if self._target is not None else None

    @property
    def model(self) -> str | None:
        """The served model in use (None: none)."""
        return self._target.model if self._target is not None else None

    @property
    def streaming(self) -> str | None:
        """The id of the reply whose stream is open now (None between replies)."""
        return self._running

    def start(self) -> None:
        """Start the engine's thread (commands start it too)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="chatapp-remote",
                                                daemon=True)
                self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the engine's thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the reply in progress, if any, and the engine's thread."""
        self.cancel()
        thread = self._thread
        if thread is None:
            return
        self._commands.put(None)
        thread.join(timeout)
        self._thread = None

    close = shutdown

    def __enter__(self) -> RemoteEngine:
        """Start on entering a `with` block."""
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Shut down on leaving it."""
        self.shutdown()

    # -- commands -------------------------------------------------------------------------------

    def send(self, op: str, **fields: Any) -> str:
        """Queue a command (see the module docstring); returns its id, which its events
        carry.  `cancel` acts at once instead of waiting its turn."""
        req_id = f"remote-{next(self._ids)}"
        if op == "cancel":
            self.cancel(fields.get("id"))
            return req_id
        self._queue(req_id, op, fields)
        return req_id

    def _queue(self, req_id: str, op: str, fields: dict[str, Any]) -> None:
        if op == "generate":
            self._cancels[req_id] = threading.Event()
        self.start()
        self._commands.put((req_id, op, fields))

    def cancel(self, req_id: str | None = None) -> None:
        """Stop the reply being streamed (or the one with this id, also before it starts):
        the stream is closed, and its `done` says "cancelled"."""
        with self._lock:
            ids = [req_id] if req_id is not None else list(self._cancels)
            for rid in ids:
                flag = self._cancels.get(rid)
                if flag is not None and not flag.is_set():
                    flag.set()
                    self._cancelled_at[rid] = time.perf_counter()
            conn = self._conn if self._running in ids else None
        if conn is not None:
            # A shutdown wakes the thread blocked in recv(); a close alone may not.
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def load(self, base_url: str, model: str, api_key: str | None = None, *,
             stored_key: bool = False, probabilities: bool = True,
             timeout: float | None = 60.0) -> dict[str, Any]:
        """Choose a server and model and check that it is served; returns the `loaded` event.
        Without `probabilities`, replies are asked for without logprobs.  Raises RemoteError."""
        return self._call("load", "loaded", timeout, base_url=base_url, model=model,
                          api_key=api_key, stored_key=stored_key, probabilities=probabilities)

    def generate(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingSettings | None = None,
        *,
        records: bool = True,
        top_n: int = 20,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream a reply: token events, then the `done` event.  Raises RemoteError.  Leaving
        the iteration early cancels the reply."""
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        req_id = f"remote-{next(self._ids)}"
        self._pending[req_id] = box
        finished = False
        try:
            self._queue(req_id, "generate", {
                "messages": list(messages), "sampling": (sampling or SamplingSettings()
                                                         ).to_dict(),
                "records": records, "top_n": top_n})
            while True:
                event = self._next(box, timeout, "generate")
                if event["type"] == "error":
                    finished = True
                    raise RemoteError(str(event["code"]), str(event["message"]))
                yield event
                if event["type"] == "done":
                    finished = True
                    return
        finally:
            if not finished:
                self.cancel(req_id)
            self._pending.pop(req_id, None)

    def _call(self, op: str, expect: str, timeout: float | None,
              **fields: Any) -> dict[str, Any]:
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        req_id = f"remote-{next(self._ids)}"
        self._pending[req_id] = box
        try:
            self._queue(req_id, op, fields)
            event = self._next(box, timeout, op)
            if event["type"] == "error":
                raise RemoteError(str(event["code"]), str(event["message"]))
            if event["type"] != expect:
                raise RemoteError("remote_http", f"unexpected answer to {op}: {event['type']}")
            return event
        finally:
            self._pending.pop(req_id, None)

    @staticmethod
    def _next(box: queue.Queue[dict[str, Any]], timeout: float | None,
              op: str) -> dict[str, Any]:
        try:
            return box.get(timeout=timeout)
        except queue.Empty:
            raise RemoteError("remote_offline", f"No answer to {op} within {timeout:.0f} s: "
                              "the server may be overloaded.") from None

    # -- the engine's thread --------------------------------------------------------------------

    def _route(self, event: dict[str, Any]) -> None:
        req_id = event.get("id")
        box = self._pending.get(req_id) if isinstance(req_id, str) else None
        if box is not None:
            box.put(event)
        if self._on_event is not None:
            self._on_event(event)

    def _run(self) -> None:
        while True:
            command = self._commands.get()
            if command is None:
                return
            req_id, op, fields = command
            try:
                event = self._execute(req_id, op, fields)
            except RemoteError as exc:
                event = protocol.error(req_id, exc.code, exc.message)
            except Exception as exc:  # a bug here must not end the thread: say it, go on
                event = protocol.error(req_id, "internal", f"{type(exc).__name__}: {exc}")
            finally:
                self._cancels.pop(req_id, None)
                self._cancelled_at.pop(req_id, None)
            self._route(event)

    def _execute(self, req_id: str, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        if op == "load":
            return self._do_load(req_id, fields)
        if op == "generate":
            return self._do_generate(req_id, fields)
        if op == "unload":
            self._target = None
            return {"type": "unloaded", "id": req_id}
        if op == "status":
            target = self._target
            return {"type": "status", "id": req_id, "state": "ready" if target else "idle",
                    "model": dict(target.info) if target else None, "pid": None,
                    "rss_bytes": None, "versions": {"chatapp": chatapp.__version__}}
        if op in ("attention", "devices"):
            raise RemoteError("remote_unsupported", "Attention weights need a local model: "
                              "they are read inside llama.cpp while it computes."
                              if op == "attention" else "Devices are listed for local "
                              "models only: the server chooses its own.")
        return protocol.error(req_id, "bad_request", f"unknown command {op!r}")

    def _do_load(self, req_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        base_url, model = fields.get("base_url"), fields.get("model")
        if not isinstance(base_url, str) or not isinstance(model, str):
            return protocol.error(req_id, "bad_request", "load needs base_url and model")
        api_key = fields.get("api_key")
        if not isinstance(api_key, str) or not api_key:
            api_key = None
        if api_key is None and fields.get("stored_key"):
            from chatapp.core.secrets import SecretsError, load_api_key

            try:
                api_key = load_api_key(base_url)
            except SecretsError as exc:  # a key file others can read: say so, use nothing
                raise RemoteError("remote_auth", str(exc)) from None
        ep = parse_base_url(base_url)
        entries = _model_entries(ep, api_key, self.connect_timeout)
        ids = [e["id"] for e in entries]
        if not model and len(entries) == 1:
            model = ids[0]
        entry = next((e for e in entries if e["id"] == model), None)
        if entry is None and not model:
            served = ", ".join(_shown(i, 60) for i in ids[:10]) or "none"
            raise RemoteError("remote_http", f"The server at {ep.url} serves several models "
                              f"({served}): choose one of them.")
        if entry is None:
            served = ", ".join(_shown(i, 60) for i in ids[:10]) or "none"
            raise RemoteError("remote_http", f"The server at {ep.url} does not serve a model "
                              f"named “{_shown(model, 80)}” (it serves: {served}): choose "
                              "one of those.")
        n_ctx = _served_context(ep, api_key, entry, self.connect_timeout)
        probabilities = bool(fields.get("probabilities", True))
        info = _model_dict(ep, model, entry, n_ctx) | {"probabilities": probabilities}
        self._target = _Target(ep, model, api_key, n_ctx, info, probabilities)
        return {"type": "loaded", "id": req_id, "model": info, "sha256": None,
                "load_ms": round((time.perf_counter() - t0) * 1000, 1)}

    def _do_generate(self, req_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        target = self._target
        if target is None:
            return protocol.error(req_id, "not_loaded", "No server is connected: choose a "
                                  "model on a server first.")
        if fields.get("continue_reply"):
            raise RemoteError("remote_unsupported", "Continuing a reply needs a local model: "
                              "an OpenAI-compatible server cannot extend an assistant "
                              "message.")
        try:
            messages = [{"role": str(m["role"]), "content": str(m["content"])}
                        for m in fields["messages"]]
            sampling = SamplingSettings.from_dict(dict(fields.get("sampling") or {}))
            top_n = max(1, min(int(fields.get("top_n", MAX_TOP_LOGPROBS)), MAX_TOP_LOGPROBS))
        except (KeyError, TypeError, ValueError) as exc:
            return protocol.error(req_id, "bad_request", str(exc))
        records = bool(fields.get("records", True)) and target.probabilities
        seed = sampling.seed if sampling.seed is not None else random.randrange(2**31)
        body: dict[str, Any] = {
            "model": target.model, "messages": messages, "stream": True,
            "stream_options": {"include_usage": True}, **request_fields(sampling, seed),
        }
        if records:
            body |= {"logprobs": True, "top_logprobs": top_n}
        stream = _Stream(req_id, records, top_n)
        cancel = self._cancels.get(req_id) or threading.Event()
        if not cancel.is_set():
            self._stream(target, body, stream, cancel)
        t_end = time.perf_counter()
        return self._done(req_id, target, stream, sampling, seed, cancel, t_end)

    def _stream(self, target: _Target, body: dict[str, Any], stream: _Stream,
                cancel: threading.Event) -> None:
        """POST the request and turn its events into token events, until the end, a cancel
        (returns) or a failure (raises RemoteError)."""
        ep = target.endpoint

        def started(conn: http.client.HTTPConnection) -> None:
            with self._lock:
                self._running, self._conn = stream.req_id, conn

        conn: http.client.HTTPConnection | None = None
        try:
            conn, resp = _open(ep, "POST", "/chat/completions", target.api_key, body,
                               connect_timeout=self.connect_timeout,
                               read_timeout=self.read_timeout, accept="text/event-stream",
                               started=started)
            if cancel.is_set():
                return
            if "json" in (resp.getheader("Content-Type") or ""):
                self._whole_answer(_read_json(resp, ep.url), stream)  # a server that ignored
                return                                                 # "stream": true
            for data in sse_data(lambda: resp.readline(MAX_LINE)):
                if cancel.is_set():
                    return
                if data.strip() == "[DONE]":
                    return
                self._chunk(data, stream, ep)
        except RemoteError:
            if cancel.is_set():
                return
            raise
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if cancel.is_set():
                return  # the cancel closed the connection under the reader
            raise _network_error(exc, ep.url, self.read_timeout) from None
        finally:
            with self._lock:
                self._running, self._conn = None, None
            if conn is not None:
                conn.close()
        if cancel.is_set():
            return
        if stream.finish is None:
            raise RemoteError("remote_offline", f"The server at {ep.url} closed the "
                              f"connection in the middle of the reply (after {stream.n} "
                              "tokens): see the server's log.")

    def _chunk(self, data: str, stream: _Stream, ep: Endpoint) -> None:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise RemoteError("remote_http", f"The server at {ep.url} sent an event that is "
                              f"not JSON ({_shown(data, 80)}).") from None
        if not isinstance(chunk, dict):
            return
        if "error" in chunk:
            raise RemoteError("remote_http", f"The server at {ep.url} stopped the reply with "
                              f"an error: {_error_detail(data.encode())}.")
        if isinstance(chunk.get("usage"), dict):
            stream.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            for event in stream.token_events(content if isinstance(content, str) else "",
                                             choice.get("logprobs")):
                self._route(event)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                stream.finish = reason

    def _whole_answer(self, answer: Any, stream: _Stream) -> None:
        choices = answer.get("choices") if isinstance(answer, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices else {}
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        for event in stream.token_events(content if isinstance(content, str) else "",
                                         choice.get("logprobs") if isinstance(choice, dict)
                                         else None):
            self._route(event)
        if isinstance(answer, dict) and isinstance(answer.get("usage"), dict):
            stream.usage = answer["usage"]
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        stream.finish = reason if isinstance(reason, str) and reason else "stop"

    def _done(self, req_id: str, target: _Target, stream: _Stream, sampling: SamplingSettings,
              seed: int, cancel: threading.Event, t_end: float) -> dict[str, Any]:
        cancelled = cancel.is_set()
        usage = stream.usage
        t_first = stream.t_first if stream.t_first is not None else t_end
        ttft = t_first - stream.t0
        n_gen = stream.n
        generated = usage.get("completion_tokens")
        if not cancelled and isinstance(generated, int) and generated >= 0:
            n_gen = generated
        prompt = usage.get("prompt_tokens")
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        gen_s = t_end - t_first
        done: dict[str, Any] = {
            "type": "done", "id": req_id,
            "finish_reason": "cancelled" if cancelled else (stream.finish or "stop"),
            "text": stream.text, "tail": "",
            "prompt_tokens": prompt if isinstance(prompt, int) else None,
            "generated_tokens": n_gen,
            "cached_prompt_tokens": cached if isinstance(cached, int) else None,
            "dropped_messages": 0,
            "time_to_first_token_ms": round(ttft * 1000, 2),
            "total_ms": round((t_end - stream.t0) * 1000, 2),
            # Like the local engine: the tokens after the first over the time after it (in
            # tokens, as the server counts them when it says: a chunk may hold several).
            "tokens_per_s": round((n_gen - 1) / gen_s, 2) if n_gen > 1 and gen_s > 0 else 0.0,
            "seed": seed,
            "sampling": sampling.to_dict() | {"seed": seed},
            "model_name": target.model,
            "endpoint": target.endpoint.url,
            "n_ctx": target.n_ctx,
            "versions": {"chatapp": chatapp.__version__},
        }
        at = self._cancelled_at.get(req_id)
        if cancelled and at is not None:
            done["cancel_latency_ms"] = round((t_end - at) * 1000, 2)
        if stream.kept:
            start = time.perf_counter()
            done["records_blob"] = base64.b64encode(
                record_codec.encode(stream.kept)).decode("ascii")
            done["records_encode_ms"] = round((time.perf_counter() - start) * 1000, 2)
        return done
