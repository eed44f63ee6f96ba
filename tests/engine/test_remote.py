"""Chatting through an OpenAI-compatible server: llama-cpp-python's own server, run for real on
127.0.0.1 with the starter model, and a scripted loopback server for what real servers rarely
do (drop the stream, batch tokens, ignore "stream").  Plus API keys without a keyring.

`LlamaServer` is also used by tests/ui/test_remote_window.py and benchmarks/remote.py.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from chatapp.core import secrets
from chatapp.core.sampling import SamplingSettings
from chatapp.engine.client import EngineClient
from chatapp.engine.remote import (
    RemoteEngine,
    RemoteError,
    endpoint_of,
    list_models,
    request_fields,
    server_label,
    sse_data,
)
from chatapp.paths import config_path, write_config_value
from chatapp.storage import records as record_codec
from chatapp.storage.reply_writer import provenance_from_done
from tests.net import free_port

ALIAS = "smollm2-135m"
KEY = "test-key-0123"
GREEDY = SamplingSettings(temperature=0.0, max_tokens=8)
PROMPT = [{"role": "user", "content": "Name three colors."}]


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on 127.0.0.1,
    serving one model file, in a process of its own.

    Its logprobs need `logits_all`, which the server turns on by default (0.3.36:
    ModelSettings.logits_all = True), so none of its flags is needed for them.
    """

    def __init__(self, model: Path, log_path: Path, *, alias: str = ALIAS,
                 api_key: str | None = KEY, n_ctx: int = 2048, threads: int = 1) -> None:
        """Not started yet (`start`)."""
        self.model = model
        self.log_path = log_path
        self.alias = alias
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.threads = threads
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL (no /v1)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> LlamaServer:
        """Start the server and wait until it answers."""
        self.port = free_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model),
                   "--model_alias", self.alias, "--host", "127.0.0.1", "--port",
                   str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads",
                   str(self.threads), "--n_threads_batch", str(self.threads)]
        if self.api_key:
            command += ["--api_key", self.api_key]
        log = open(self.log_path, "wb")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/v1/models", timeout=2).close()
                return self
            except urllib.error.HTTPError:
                return self  # 401 without a key: it is up
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        """The end of the server's output (for failure messages)."""
        try:
            return self.log_path.read_text("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def server(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The real server with the starter model, shared by the module's tests."""
    running = LlamaServer(starter_model, tmp_path_factory.mktemp("server") / "server.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def remote() -> Iterator[RemoteEngine]:
    """A RemoteEngine, shut down after the test."""
    with RemoteEngine() as made:
        yield made


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    """No system keyring (as on these machines): keys go to the private file, never to a
    keyring the test did not make."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


# -- the real server --------------------------------------------------------------------------


def test_list_models_in_every_way_the_address_is_written(server: LlamaServer) -> None:
    port = server.port
    for url in (server.url, f"{server.url}/", f"{server.url}/v1", f"127.0.0.1:{port}/v1/"):
        assert list_models(url, KEY) == [ALIAS]
    assert endpoint_of(f"127.0.0.1:{port}") == f"http://127.0.0.1:{port}/v1"
    assert server_label("/models/x/SmolLM2.gguf", server.url) == f"SmolLM2.gguf @ 127.0.0.1:{port}"


def test_a_reply_streams_token_by_token_then_done(server: LlamaServer) -> None:
    seen: list[tuple[dict[str, Any], str | None]] = []
    with RemoteEngine(on_event=lambda e: seen.append((e, engine.streaming))) as engine:
        loaded = engine.load(server.url, ALIAS, KEY)
        events = list(engine.generate(PROMPT, GREEDY, top_n=5))
    model = loaded["model"]
    assert (model["name"], model["backend"]) == (ALIAS, "remote")
    assert model["endpoint"] == f"{server.url}/v1" and model["n_ctx"] is None
    tokens = [e for e in events if e["type"] == "token"]
    done = events[-1]
    assert done["type"] == "done" and len(tokens) >= 3
    # Each token arrived on its own, while the server's stream was still open.
    streamed = [(e["i"], open_id) for e, open_id in seen if e["type"] == "token"]
    assert streamed == [(k, done["id"]) for k in range(len(tokens))]
    assert "".join(t["text"] for t in tokens) == done["text"] and done["text"].strip()
    assert done["generated_tokens"] == len(tokens)
    assert done["finish_reason"] in ("stop", "length")
    assert (done["model_name"], done["endpoint"]) == (ALIAS, f"{server.url}/v1")
    assert done["tokens_per_s"] > 0 and done["time_to_first_token_ms"] > 0
    assert done["sampling"]["seed"] == done["seed"] and done["sampling"]["temperature"] == 0
    provenance = provenance_from_done(done)
    assert provenance["endpoint"] == f"{server.url}/v1" and provenance["remote_model"] == ALIAS
    assert provenance["model_file"] is None
    # Stand-in ids: negative, the same text the same id.
    ids = {t["piece"]: t["token"] for t in tokens}
    assert all(t["token"] < 0 and ids[t["piece"]] == t["token"] for t in tokens)


def test_top_logprobs_are_the_local_raw_distribution(server: LlamaServer,
                                                     engine: EngineClient) -> None:
    """The server's records: one "server" stage with its top candidates, most likely first,
    which for llama-cpp-python's server are exactly the raw (T = 1) distribution the local model
    process records for the same prompt: the label "from the raw logits" is true."""
    with RemoteEngine() as remote:
        remote.load(server.url, ALIAS, KEY)
        served = list(remote.generate(PROMPT, GREEDY, top_n=5))
    local = [e for e in engine.generate(PROMPT, GREEDY, top_n=5) if e["type"] == "token"]
    tokens = [e for e in served if e["type"] == "token"]
    assert [t["text"] for t in tokens] == [t["text"] for t in local][:len(tokens)]
    for got, want in zip(tokens, local, strict=False):
        (stage,) = got["stages"]
        assert (stage["name"], stage["active"], stage["survivors"]) == ("server", True, -1)
        top = stage["top"]
        assert len(top) == 5 and [p for _i, _t, p in top] == sorted(
            (p for _i, _t, p in top), reverse=True)
        raw = next(s for s in want["stages"] if s["name"] == "raw")
        assert [t for _i, t, _p in top] == [t for _i, t, _p in raw["top"][:5]]
        for (_i, _t, p), (_j, _u, q) in zip(top, raw["top"], strict=False):
            assert p == pytest.approx(q, abs=1e-4)
        # Greedy: the chosen token is the first candidate.
        assert got["chosen_rank"] == 0 and got["chosen_p"] == top[0][2]
        assert top[0][0] == got["token"] and "candidates" not in got
    # The done event's blob holds the same records.
    blob = base64.b64decode(served[-1]["records_blob"])
    stored = record_codec.decode(blob)
    assert len(stored) == len(tokens)
    assert stored[1]["stages"][0]["top"][0][1] == tokens[1]["stages"][0]["top"][0][1]


def test_with_probabilities_off_the_same_reply_comes_without_logprobs(
        server: LlamaServer) -> None:
    with RemoteEngine() as remote:
        assert remote.load(server.url, ALIAS, KEY)["model"]["probabilities"] is True
        with_them = list(remote.generate(PROMPT, GREEDY, top_n=5))
        loaded = remote.load(server.url, ALIAS, KEY, probabilities=False)
        without = list(remote.generate(PROMPT, GREEDY, top_n=5))  # records asked for: refused
    assert loaded["model"]["probabilities"] is False
    assert without[-1]["text"] == with_them[-1]["text"] and without[-1]["text"].strip()
    tokens = [e for e in without if e["type"] == "token"]
    assert tokens and all("stages" not in t and "chosen_p" not in t for t in tokens)
    assert "records_blob" not in without[-1] and "records_blob" in with_them[-1]


def test_cancel_closes_the_stream_and_the_server_goes_on(server: LlamaServer,
                                                         remote: RemoteEngine) -> None:
    remote.load(server.url, ALIAS, KEY)
    long = SamplingSettings(temperature=0.8, max_tokens=300, seed=5)
    story = [{"role": "user", "content": "Write a long story about the sea."}]
    tokens: list[dict[str, Any]] = []
    done: dict[str, Any] = {}
    for event in remote.generate(story, long, records=False):
        if event["type"] == "token":
            tokens.append(event)
            if len(tokens) == 3:
                remote.cancel(event["id"])
        else:
            done = event
    assert done["finish_reason"] == "cancelled" and "cancel_latency_ms" in done
    assert 3 <= len(tokens) < 300 and done["text"] == "".join(t["text"] for t in tokens)
    assert "records_blob" not in done and "stages" not in tokens[0]
    assert remote.streaming is None
    # The server noticed the client go: the next reply comes at once, whole.
    again = list(remote.generate(PROMPT, GREEDY, records=False))
    assert again[-1]["type"] == "done" and again[-1]["finish_reason"] in ("stop", "length")


def test_wrong_or_missing_key_is_an_auth_error(server: LlamaServer,
                                               remote: RemoteEngine) -> None:
    with pytest.raises(RemoteError) as wrong:
        remote.load(server.url, ALIAS, "not-the-key")
    assert wrong.value.code == "remote_auth" and "refused the API key" in wrong.value.message
    assert "not-the-key" not in wrong.value.message
    with pytest.raises(RemoteError) as missing:
        list_models(server.url)
    assert missing.value.code == "remote_auth" and "needs an API key" in missing.value.message
    # Through send(): the same error as an event.
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    with RemoteEngine(on_event=answers.put) as engine:
        req = engine.send("load", base_url=server.url, model=ALIAS, api_key="nope")
        got = answers.get(timeout=30)
    assert (got["type"], got["id"], got["code"]) == ("error", req, "remote_auth")


def test_unknown_path_model_and_closed_port_are_clear_errors(server: LlamaServer,
                                                             remote: RemoteEngine) -> None:
    with pytest.raises(RemoteError) as not_found:
        list_models(f"{server.url}/somewhere-else", KEY)
    assert not_found.value.code == "remote_http" and "HTTP 404" in not_found.value.message
    with pytest.raises(RemoteError) as unknown:
        remote.load(server.url, "no-such-model", KEY)
    assert unknown.value.code == "remote_http"
    assert "does not serve a model named “no-such-model”" in unknown.value.message
    assert ALIAS in unknown.value.message
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RemoteError) as offline:
        remote.load(closed, ALIAS, KEY)
    assert offline.value.code == "remote_offline"
    assert "connection refused" in offline.value.message
    with pytest.raises(RemoteError) as bad:
        list_models("ftp://example.org")
    assert bad.value.code == "remote_http" and "not a server address" in bad.value.message


def test_generate_before_load_attention_and_continue_are_refused(server: LlamaServer) -> None:
    with RemoteEngine() as fresh, pytest.raises(RemoteError) as none:
        list(fresh.generate(PROMPT, GREEDY))
    assert none.value.code == "not_loaded"
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    with RemoteEngine(on_event=answers.put) as engine:
        engine.connect(server.url, KEY, ALIAS)
        attention = engine.send("attention", messages=PROMPT, reply_tokens=[-1])
        extend = engine.send("generate", messages=[*PROMPT, {"role": "assistant",
                                                             "content": "Red"}],
                             sampling=GREEDY.to_dict(), continue_reply=True)
        first, second = answers.get(timeout=10), answers.get(timeout=10)
    assert (first["id"], first["code"]) == (attention, "remote_unsupported")
    assert first["message"].startswith("Attention weights need a local model")
    assert (second["id"], second["code"]) == (extend, "remote_unsupported")
    assert second["message"].startswith("Continuing a reply needs a local model")


def test_the_saved_key_is_used_when_none_is_given(server: LlamaServer,
                                                  remote: RemoteEngine) -> None:
    where = secrets.store_api_key(server.url + "/v1/", KEY)
    assert where.kind == "file"
    loaded = remote.load(server.url, ALIAS, stored_key=True)
    assert loaded["model"]["name"] == ALIAS
    secrets.forget_api_key(server.url)
    with pytest.raises(RemoteError) as gone:
        remote.load(server.url, ALIAS, stored_key=True)
    assert gone.value.code == "remote_auth"


# -- a scripted server: what real servers rarely do -------------------------------------------


class Scripted:
    """A loopback HTTP server answering each path with canned bytes; a body may end without
    the stream's end (the connection is closed after it)."""

    def __init__(self, routes: dict[str, tuple[int, str, bytes]]) -> None:
        """`routes`: path → (status, content type, body)."""
        handler = self._handler(routes)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.requests: list[dict[str, Any]] = []
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _handler(self, routes: dict[str, tuple[int, str, bytes]]) -> type:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            """Answers from `routes`, recording each request's path and JSON body."""

            def log_message(self, *_args: object) -> None:
                """Quiet: the test output is not the place for an access log."""

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append({"path": self.path, "body": json.loads(body or b"{}")})
                status, kind, data = routes.get(self.path, (404, "text/plain", b"Not Found"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                self.close_connection = True

            do_GET = do_POST = _answer

        return Handler

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


def _sse(*chunks: object, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def _chunk(content: str | None, logprobs: object = None, finish: str | None = None) -> dict[
        str, Any]:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                         "finish_reason": finish}]}


MODELS = (200, "application/json", json.dumps({"data": [{"id": "m", "max_model_len": 4096}]})
          .encode())


def _run(routes: dict[str, tuple[int, str, bytes]], sampling: SamplingSettings = GREEDY
         ) -> tuple[list[dict[str, Any]], Scripted, RemoteError | None]:
    scripted = Scripted({"/v1/models": MODELS, **routes})
    events: list[dict[str, Any]] = []
    error: RemoteError | None = None
    try:
        with RemoteEngine(on_event=events.append, read_timeout=10) as engine:
            engine.load(scripted.url, "m")
            try:
                list(engine.generate(PROMPT, sampling, top_n=3))
            except RemoteError as exc:
                error = exc
    finally:
        scripted.close()
    return events, scripted, error


def test_a_stream_cut_short_is_an_offline_error_after_its_tokens() -> None:
    body = _sse(_chunk("Hel"), _chunk("lo"), done=False)
    events, _s, error = _run({"/v1/chat/completions": (200, "text/event-stream", body)})
    assert [e["text"] for e in events if e["type"] == "token"] == ["Hel", "lo"]
    assert error is not None and error.code == "remote_offline"
    assert "in the middle of the reply (after 2 tokens)" in error.message
    assert events[-1]["type"] == "error" and events[0]["model"]["n_ctx"] == 4096


def test_several_tokens_in_one_chunk_become_one_event_each() -> None:
    def entry(text: str, lp: float) -> dict[str, Any]:
        return {"token": text, "logprob": lp,
                "top_logprobs": [{"token": text, "logprob": lp},
                                 {"token": "x", "logprob": -3.0},
                                 {"token": "x", "logprob": -2.5}]}

    body = _sse(_chunk("Hello world", {"content": [entry("Hello", -0.1), entry(" world",
                                                                              -0.2)]}),
                _chunk("!", {"content": [entry("?", -0.3)]}),  # texts that do not add up
                {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3}},
                _chunk(None, finish="stop"))
    events, scripted, error = _run({"/v1/chat/completions": (200, "text/event-stream", body)})
    assert error is None
    tokens = [e for e in events if e["type"] == "token"]
    assert [(t["piece"], t["text"]) for t in tokens] == [("Hello", "Hello"),
                                                         (" world", " world"), ("?", "!")]
    # One text, one candidate: the likelier "x".
    assert [c[1:] for c in tokens[0]["stages"][0]["top"]] == [["Hello", pytest.approx(0.904837)],
                                                              ["x", pytest.approx(0.082085)]]
    done = events[-1]
    assert (done["text"], done["prompt_tokens"], done["generated_tokens"]) == (
        "Hello world!", 11, 3)
    assert done["n_ctx"] == 4096 and done["finish_reason"] == "stop"
    sent = scripted.requests[-1]["body"]
    assert sent["stream"] is True and (sent["logprobs"], sent["top_logprobs"]) == (True, 3)
    assert sent["seed"] == done["seed"] and sent["temperature"] == 0.0


def test_an_answer_that_is_not_streamed_and_an_error_in_the_stream() -> None:
    whole = json.dumps({"choices": [{"message": {"content": "Hi there"},
                                     "finish_reason": "length"}]}).encode()
    events, _s, error = _run({"/v1/chat/completions": (200, "application/json", whole)})
    assert error is None and events[-1]["type"] == "done"
    assert (events[-1]["text"], events[-1]["finish_reason"]) == ("Hi there", "length")
    failing = _sse(_chunk("A"), {"error": {"message": "the model crashed"}}, done=False)
    events, _s, error = _run({"/v1/chat/completions": (200, "text/event-stream", failing)})
    assert error is not None and error.code == "remote_http"
    assert "the model crashed" in error.message


def test_llama_server_props_give_the_context_and_meta_the_model() -> None:
    listed = {"data": [{"id": "q", "owned_by": "llamacpp",
                        "meta": {"n_params": 135_000_000, "size": 98_000_000,
                                 "n_ctx_train": 8192, "n_vocab": 49152}}]}
    props = {"default_generation_settings": {"n_ctx": 3072}}
    scripted = Scripted({
        "/v1/models": (200, "application/json", json.dumps(listed).encode()),
        "/props": (200, "application/json", json.dumps(props).encode())})
    try:
        with RemoteEngine() as engine:
            model = engine.load(scripted.url + "/v1", "")["model"]  # one model: taken
    finally:
        scripted.close()
    assert (model["name"], model["n_ctx"], model["n_ctx_train"]) == ("q", 3072, 8192)
    assert (model["parameters"], model["size_bytes"], model["n_vocab"]) == (
        135_000_000, 98_000_000, 49152)


def test_an_unnamed_model_on_a_server_of_several_is_refused() -> None:
    listed = {"data": [{"id": "a"}, {"id": "b"}]}
    scripted = Scripted({"/v1/models": (200, "application/json", json.dumps(listed).encode())})
    try:
        with RemoteEngine() as engine, pytest.raises(RemoteError) as err:
            engine.load(scripted.url, "")
    finally:
        scripted.close()
    assert err.value.code == "remote_http" and "serves several models (a, b)" in str(err.value)


def test_not_an_api_is_said_plainly() -> None:
    scripted = Scripted({"/v1/models": (200, "text/html", b"<html>router login</html>")})
    try:
        with pytest.raises(RemoteError) as err:
            list_models(scripted.url)
    finally:
        scripted.close()
    assert err.value.code == "remote_http" and "not JSON" in err.value.message


# -- pure pieces ------------------------------------------------------------------------------


def test_sampling_fields_sent() -> None:
    s = SamplingSettings(temperature=0.5, top_k=7, top_p=0.8, min_p=0.1, repeat_penalty=1.2,
                         frequency_penalty=0.3, presence_penalty=0.4, max_tokens=9,
                         stop=("END",))
    assert request_fields(s, 42) == {
        "temperature": 0.5, "top_p": 0.8, "max_tokens": 9, "seed": 42, "presence_penalty": 0.4,
        "frequency_penalty": 0.3, "top_k": 7, "min_p": 0.1, "repeat_penalty": 1.2,
        "stop": ["END"]}


def test_sse_parsing() -> None:
    raw = (b": ping\r\n\r\nevent: message\r\ndata: {\"a\":\r\ndata:  1}\r\n\r\n"
           b"id: 3\ndata: [DONE]\n\ndata: tail-without-blank-line\n")
    lines = iter(raw.splitlines(keepends=True))
    assert list(sse_data(lambda: next(lines, b""))) == ['{"a":\n 1}', "[DONE]",
                                                        "tail-without-blank-line"]


# -- API keys without a keyring ---------------------------------------------------------------


def test_keys_go_to_a_private_file_and_come_back() -> None:
    write_config_value("remote_servers", [{"url": "http://h:1", "model": "m"}])
    where = secrets.store_api_key("http://Example.org:8080/v1/", "sk-one")
    path = config_path().parent / "secrets.json"
    assert (where.kind, where.where) == ("file", str(path))
    assert "secrets.json" in where.message and "No system keyring" in where.message
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.load_api_key("http://example.org:8080") == "sk-one"
    assert secrets.load_api_key("http://example.org:8081") is None
    secrets.store_api_key("https://other/v1", "sk-two")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.load_api_key("https://other") == "sk-two"
    assert "sk-" not in config_path().read_text()  # the server list never holds a key
    secrets.forget_api_key("http://example.org:8080/")
    assert secrets.load_api_key("http://example.org:8080") is None
    assert secrets.load_api_key("https://other/") == "sk-two"
    secrets.forget_api_key("https://other")
    assert not path.exists()


def test_a_key_file_others_can_read_is_refused() -> None:
    secrets.store_api_key("http://h:1", "sk-x")
    path = secrets.secrets_path()
    path.chmod(0o644)
    with pytest.raises(secrets.SecretsError) as err:
        secrets.load_api_key("http://h:1")
    assert "chmod 600" in str(err.value) and "0644" in str(err.value)
    secrets.store_api_key("http://h:1", "sk-y")  # rewriting makes it private again
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.load_api_key("http://h:1") == "sk-y"


class _MemoryKeyring(KeyringBackend):
    """A keyring backend kept in a dict (a usable keyring, without touching the user's)."""

    priority = 1.0  # type: ignore[assignment]

    def __init__(self) -> None:
        """Empty."""
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        """The password kept, or None."""
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        """Keep a password."""
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        """Drop a password (KeyError when there is none)."""
        del self.items[(service, username)]


def test_a_usable_keyring_takes_the_key_and_no_file_is_written() -> None:
    memory = _MemoryKeyring()
    keyring.set_keyring(memory)
    where = secrets.store_api_key("http://h:1/v1", "sk-k")
    assert where.kind == "keyring" and "system keyring" in where.message
    assert memory.items == {("chatapp", "http://h:1"): "sk-k"}
    assert not secrets.secrets_path().exists()
    assert secrets.load_api_key("http://h:1") == "sk-k"
    secrets.forget_api_key("http://h:1")
    assert memory.items == {}
