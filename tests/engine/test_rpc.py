"""Splitting a model over workers with llama.cpp's RPC backend: real `chatapp worker` processes
on 127.0.0.1, the real starter model in a real model process, the real chat storage."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatapp.core.sampling import SamplingSettings
from chatapp.engine import rpc
from chatapp.engine.client import EngineClient, EngineError, describe_exit, rpc_failure
from chatapp.storage import ChatStore
from chatapp.storage.reply_writer import ReplyWriter
from tests.net import free_port

#: The tests that run real workers.  Without RPC they cannot run; test_this_build_has_rpc then
#: fails, once, with the fix, instead of every one of them failing the same way.
needs_rpc = pytest.mark.skipif(not rpc.rpc_supported(),
                               reason="llama.cpp built without RPC: see test_this_build_has_rpc")

ROOT = Path(__file__).resolve().parents[2]
STORY = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]
GREEDY = SamplingSettings(temperature=0.0, seed=7, max_tokens=16)


# -- real worker processes ---------------------------------------------------------------------


@dataclass
class Worker:
    """A `chatapp worker` subprocess and what it printed."""

    proc: subprocess.Popen[str]
    endpoint: str
    lines: list[str]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_worker(folder: Path, listen: str, *extra: str) -> Worker:
    """Start `chatapp worker` as a user does and wait for its "Ready:" line."""
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CHATAPP_DATA_DIR=str(folder / "data"),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                          if p))
    err = folder / f"worker-{listen.replace(':', '_')}.err"
    # stderr to a file: llama.cpp notes every connection there, and a full pipe would block it.
    with open(err, "w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chatapp", "worker", "--listen", listen, "--threads", "1",
             *extra], stdout=subprocess.PIPE, stderr=err_file, text=True, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    box: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            box.put(line.rstrip("\n"))
        box.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while not any(line.startswith("Ready:") for line in lines):
        try:
            line = box.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"no Ready line in 60 s: {lines} {err.read_text()}") from None
        if line is None:
            raise AssertionError(f"the worker ended: {lines} {err.read_text()}")
        lines.append(line)
    return Worker(proc, listen, lines, err)


def stop_worker(worker: Worker) -> int:
    """SIGTERM, as a service manager stops it; returns its exit code."""
    if worker.proc.poll() is None:
        worker.proc.send_signal(signal.SIGTERM)
    try:
        return worker.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.proc.kill()
        return worker.proc.wait()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    """Two workers on 127.0.0.1, shared by the tests that do not kill one."""
    folder = tmp_path_factory.mktemp("workers")
    started = [start_worker(folder, f"127.0.0.1:{free_port()}") for _ in range(2)]
    yield started
    codes = [stop_worker(w) for w in started]
    assert codes == [0, 0], [w.stderr() for w in started]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineClient]:
    c = EngineClient(log_path=tmp_path_factory.mktemp("engine") / "engine.log")
    c.start()
    yield c
    c.shutdown()


def tokens_of(client: EngineClient, sampling: SamplingSettings = GREEDY) -> list[int]:
    return [e["token"] for e in client.generate(STORY, sampling, records=False)
            if e["type"] == "token"]


def layer_sets(model: dict[str, Any]) -> list[list[int]]:
    """Each listed device's layers, the output layer (n_layer) included, as llama.cpp said."""
    n_layer = model["n_layer"]
    out = []
    for dev in model["devices_used"][:-1]:  # the last entry is this machine's CPU
        first, last = dev["layers"] if dev["layers"] else (0, -1)
        out.append(list(range(first, last + 1)) + ([n_layer] if dev["output_layer"] else []))
    return out


def test_this_build_has_rpc() -> None:
    # The README's install commands promise RPC (`chatapp engine --ensure-rpc` sees to it even
    # when pip's cache holds an older build without it); without it, half of this file is
    # skipped, so that must be a failure, not a quiet skip.
    assert rpc.rpc_supported(), (
        "llama-cpp-python was built without RPC, so the worker tests were skipped: run "
        "`chatapp engine --ensure-rpc` (or the README's install command)")


# -- splitting ------------------------------------------------------------------------------------


@needs_rpc
def test_worker_prints_what_it_serves_on_loopback(workers: list[Worker]) -> None:
    text = "\n".join(workers[0].lines)
    assert "CPU:" in text and "GB" in text and "RAM available" in text
    assert f"Ready: listening on {workers[0].endpoint}" in text
    assert "Only programs on this computer" in text
    assert "WARNING" not in workers[0].stderr()
    assert "Starting RPC server" in workers[0].stderr()  # llama.cpp's own banner, on stderr


@needs_rpc
def test_split_over_two_workers_gives_the_local_greedy_tokens(
    client: EngineClient, workers: list[Worker], starter_model: Path
) -> None:
    a, b = (w.endpoint for w in workers)
    loaded = client.load(starter_model, n_ctx=1024, rpc=[a, b], n_threads=1)
    model = loaded["model"]
    assert model["rpc"] == [a, b] and model["split"] == "auto"
    first, second, cpu = model["devices_used"]
    assert first["name"].startswith("RPC") and second["name"].startswith("RPC")
    assert cpu["name"] == "CPU" and cpu["type"] == "CPU"
    assert (first["endpoint"], second["endpoint"], cpu["endpoint"]) == (a, b, None)
    # Both workers got layers, in order, all of them between them, llama.cpp's own report.
    assert first["layers"][0] == 0 and first["n_layers"] > 0 and second["n_layers"] > 0
    assert second["layers"] == [first["layers"][1] + 1, model["n_layer"] - 1]
    assert second["output_layer"] and not first["output_layer"]
    assert cpu["input_layer"] and cpu["n_layers"] == 0
    assert {d["layers_from"] for d in model["devices_used"]} == {"llama.cpp"}
    assert all(d["weights_bytes"] > 1_000_000 for d in model["devices_used"])
    # "auto" is by free memory (two CPU workers on one machine: the same), as llama.cpp computes.
    shares = [first["memory_free"], second["memory_free"]]
    assert layer_sets(model) == rpc.split_layers(shares, model["n_layer"])

    remote = tokens_of(client)
    client.load(starter_model, n_ctx=1024, n_threads=1)
    local = tokens_of(client)
    assert len(local) == GREEDY.max_tokens
    assert remote == local


@needs_rpc
def test_split_proportions_move_the_layers(
    client: EngineClient, workers: list[Worker], starter_model: Path
) -> None:
    endpoints = [w.endpoint for w in workers]
    counts = {}
    for split in ([1, 3], [3, 1]):
        model = client.load(starter_model, n_ctx=512, rpc=endpoints, split=split,
                            n_threads=1)["model"]
        assert model["split"] == [float(v) for v in split]
        assert layer_sets(model) == rpc.split_layers(split, model["n_layer"])
        counts[tuple(split)] = [d["n_layers"] for d in model["devices_used"][:2]]
    # 30 layers and the output layer: a quarter is layers 0-7 on the first worker.
    assert counts[(1, 3)] == [8, 22]
    assert counts[(3, 1)][0] > counts[(3, 1)][1]
    with pytest.raises(EngineError) as err:
        client.load(starter_model, n_ctx=512, rpc=endpoints, split=[1, 2, 3])
    assert err.value.code == "bad_request" and "3 proportions" in err.value.message
    assert "2 devices" in err.value.message


@needs_rpc
def test_workers_are_probed_without_loading(
    client: EngineClient, workers: list[Worker], starter_model: Path
) -> None:
    a, b = (w.endpoint for w in workers)
    closed = f"127.0.0.1:{free_port()}"
    client.unload()
    answer = client.workers([a, closed])["workers"]
    assert answer[0]["ok"] and answer[0]["protocol"] == "7.0.0" and not answer[0]["in_use"]
    assert answer[0]["devices"][0]["memory_total"] > 100_000_000
    assert answer[0]["devices"][0]["description"] == a  # as llama.cpp describes RPC devices
    assert not answer[1]["ok"] and closed in answer[1]["error"]
    assert "connection refused" in answer[1]["error"]

    client.load(starter_model, n_ctx=512, rpc=[a, b], n_threads=1)
    during = client.workers([a])["workers"][0]
    assert during["ok"] and during["in_use"] and during["devices"][0]["name"] == "RPC0"
    # Another program asking the same worker meanwhile: it serves one client at a time.
    with pytest.raises(rpc.WorkerBusyError, match="busy with another client"):
        rpc.probe_worker(a, timeout=1.0)
    client.unload()
    assert rpc.probe_worker(a).devices  # free again once the model is gone


@needs_rpc
def test_an_unreachable_worker_is_an_error_not_an_abort(
    client: EngineClient, workers: list[Worker], starter_model: Path
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    pid, restarts = client.pid, client.restarts
    with pytest.raises(EngineError) as err:
        client.load(starter_model, n_ctx=512, rpc=[workers[0].endpoint, closed])
    assert err.value.code == "rpc"
    assert closed in err.value.message and "connection refused" in err.value.message
    assert "chatapp worker" in err.value.message  # what to do about it
    # llama.cpp never touched it: the model process is the same one, and it goes on.
    assert client.pid == pid and client.restarts == restarts
    assert client.load(starter_model, n_ctx=512)["model"]["rpc"] == []


@needs_rpc
def test_chat_command_splits_over_workers(workers: list[Worker], starter_model: Path) -> None:
    endpoints = ",".join(w.endpoint for w in workers)
    out = subprocess.run(
        [sys.executable, "-m", "chatapp", "chat", "-m", str(starter_model), "--rpc", endpoints,
         "--split", "1,3", "--temperature", "0", "--max-tokens", "8", "--threads", "1",
         "--no-save", "What is 2 + 2?"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert f"RPC0 {workers[0].endpoint}: layers 0-7" in out.stderr
    assert f"RPC1 {workers[1].endpoint}: layers 8-29, output layer" in out.stderr

    devices = subprocess.run(
        [sys.executable, "-m", "chatapp", "models", "devices", "--rpc", workers[0].endpoint],
        capture_output=True, text=True, timeout=120)
    assert devices.returncode == 0, devices.stderr
    assert f"Worker {workers[0].endpoint}: RPC protocol 7.0.0" in devices.stdout


# -- a worker that dies mid-reply ---------------------------------------------------------------


@needs_rpc
def test_worker_killed_mid_reply_loses_nothing_stored(
    tmp_path: Path, starter_model: Path
) -> None:
    doomed_folder = tmp_path / "workers"
    keeper = start_worker(doomed_folder, f"127.0.0.1:{free_port()}")
    doomed = start_worker(doomed_folder, f"127.0.0.1:{free_port()}")
    store = ChatStore(tmp_path / "chat.db")
    client = EngineClient(log_path=tmp_path / "engine.log")
    try:
        client.start()
        client.load(starter_model, n_ctx=1024, rpc=[keeper.endpoint, doomed.endpoint],
                    n_threads=1)
        client_pid = client.pid
        conv = store.create_conversation(model=starter_model.name)
        question = store.add_message(conv.id, "user", STORY[0]["content"])
        reply = store.begin_reply(conv.id, question.id)
        writer = ReplyWriter(store, reply.id)
        sampling = SamplingSettings(temperature=0.0, seed=7, max_tokens=2000)
        streamed = 0
        with pytest.raises(EngineError) as err:
            for event in client.generate(STORY, sampling, records=True):
                assert event["type"] == "token", "the reply ended before the worker died"
                writer.token(event)
                streamed += 1
                if streamed == 6:
                    doomed.proc.send_signal(signal.SIGKILL)
        # As the GUI does on a crash: the partial reply is saved as failed.
        writer.failed(err.value.message)
    finally:
        stop_worker(doomed)

    assert err.value.code == "crashed"
    message = err.value.message
    assert f"the worker at {doomed.endpoint} stopped answering" in message
    assert "SIGABRT" in message and "load the model again" in message
    assert f"remaining worker {keeper.endpoint}" in message and client.last_crash == message

    # Nothing stored is lost: the question, and the reply up to the crash, marked failed.
    store.close()
    with ChatStore(tmp_path / "chat.db") as reopened:
        path = reopened.active_path(conv.id)
        assert [m.role for m in path] == ["user", "assistant"]
        assert path[0].content == STORY[0]["content"] and path[0].status == "complete"
        assert path[1].status == "error" and path[1].error == message
        assert path[1].content == writer.text and len(writer.text) > 0
        assert streamed >= 6

    try:
        # The model process was replaced; the model loads again, here and on the worker left.
        deadline = time.monotonic() + 30
        while not client.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.restarts == 1 and client.pid != client_pid
        assert client.load(starter_model, n_ctx=512, n_threads=1)["model"]["rpc"] == []
        assert len(tokens_of(client, SamplingSettings(temperature=0.0, max_tokens=4))) == 4
        survivor = client.load(starter_model, n_ctx=512, rpc=[keeper.endpoint], n_threads=1)
        assert survivor["model"]["devices_used"][0]["n_layers"] == survivor["model"]["n_layer"]
        assert len(tokens_of(client, SamplingSettings(temperature=0.0, max_tokens=4))) == 4
    finally:
        client.shutdown()
        assert stop_worker(keeper) == 0


@needs_rpc
def test_worker_gone_while_idle_does_not_stop_a_local_load(
    tmp_path: Path, workers: list[Worker], starter_model: Path
) -> None:
    extra = start_worker(tmp_path, f"127.0.0.1:{free_port()}")
    client = EngineClient(log_path=tmp_path / "engine.log")
    try:
        client.start()
        client.load(starter_model, n_ctx=512, rpc=[workers[0].endpoint, extra.endpoint],
                    n_threads=1)
        pid = client.pid
        extra.proc.kill()
        extra.proc.wait(timeout=20)
        # Unloading would send the dead worker "free your buffers", and llama.cpp aborts when
        # it cannot: the model process is replaced instead (not a crash), and the load works.
        loaded = client.load(starter_model, n_ctx=512, n_threads=1)
        assert loaded["model"]["rpc"] == [] and client.pid != pid and client.restarts == 0
        assert len(tokens_of(client, SamplingSettings(temperature=0.0, max_tokens=4))) == 4
        # The worker that is still there was let go of: it answers other programs again.
        assert rpc.probe_worker(workers[0].endpoint).devices
    finally:
        client.shutdown()
    # The old process, told to stop, left the model unfreed rather than abort.
    log = (tmp_path / "engine.log").read_text()
    assert f"worker {extra.endpoint} is gone" in log and "SIGABRT" not in log


@needs_rpc
def test_worker_on_every_interface_warns_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    worker = start_worker(tmp_path, f"0.0.0.0:{port}", "--no-cache")
    assert any(f"Ready: listening on 0.0.0.0:{port}" in line for line in worker.lines)
    assert any("tensor cache: off" in line for line in worker.lines)
    assert rpc.probe_worker(f"127.0.0.1:{port}").version[0] == rpc.PROTOCOL_MAJOR
    assert stop_worker(worker) == 0
    err = worker.stderr()
    assert f"WARNING: listening on 0.0.0.0:{port}" in err
    assert "anyone who can reach port" in err and "no password and no encryption" in err


@needs_rpc
def test_worker_refuses_a_taken_port_and_an_unknown_device(workers: list[Worker]) -> None:
    base = [sys.executable, "-m", "chatapp", "worker"]
    taken = subprocess.run([*base, "--listen", workers[0].endpoint], capture_output=True,
                           text=True, timeout=60)
    assert taken.returncode == 1 and "address already in use" in taken.stderr
    assert "--listen" in taken.stderr and "Traceback" not in taken.stderr
    unknown = subprocess.run([*base, "--device", "NOPE0", "--listen", f"127.0.0.1:{free_port()}"],
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "no device called 'NOPE0'" in unknown.stderr
    assert "CPU" in unknown.stderr  # it lists the ones there are


# -- pure logic -----------------------------------------------------------------------------------


def test_endpoints_are_checked_in_words() -> None:
    assert rpc.parse_endpoints("Localhost:5, 10.0.0.2:50052") == ["localhost:5",
                                                                  "10.0.0.2:50052"]
    for bad, words in (("nohost", "HOST:PORT"), ("h:0", "HOST:PORT"), ("h:x", "HOST:PORT"),
                       ("::1:5", "IPv4"), ("[::1]:5", "IPv4"), ("", "No worker address")):
        with pytest.raises(rpc.RpcError, match=words):
            rpc.parse_endpoints(bad)
    with pytest.raises(rpc.RpcError, match="same worker"):
        rpc.parse_endpoints("localhost:7000,127.0.0.1:7000")
    with pytest.raises(rpc.RpcError, match="at most 16"):
        rpc.parse_endpoints([f"10.0.0.1:{p}" for p in range(1000, 1017)])
    assert rpc.is_loopback("127.0.0.1") and rpc.is_loopback("localhost")
    assert not rpc.is_loopback("0.0.0.0")


def test_split_rule_is_llama_cpps() -> None:
    # llama_model_base::load_tensors: layer il goes to the first device whose cumulative share
    # is above il / (n_layer + 1); index n_layer is the output layer.
    assert rpc.split_layers([1, 1], 30) == [list(range(16)), list(range(16, 31))]
    assert rpc.split_layers([1, 3], 30) == [list(range(8)), list(range(8, 31))]
    assert rpc.split_layers([0, 1], 4) == [[], [0, 1, 2, 3, 4]]
    with pytest.raises(rpc.SplitError, match="one per device"):
        rpc.check_split([1], [{"name": "RPC0", "endpoint": "a:1"}, {"name": "CUDA0"}])
    with pytest.raises(rpc.SplitError, match="not all 0"):
        rpc.check_split([0, 0], [{"name": "RPC0"}, {"name": "RPC1"}])
    with pytest.raises(rpc.SplitError, match="not all 0"):
        rpc.check_split([-1, 2], [{"name": "RPC0"}, {"name": "RPC1"}])


def test_placement_reads_llama_cpps_load_log() -> None:
    log = [f"load_tensors: layer {i:3d} assigned to device {'RPC3' if i < 2 else 'RPC4'}, "
           "is_swa = 0" for i in range(5)] + [
        "load_tensors:   CPU_Mapped model buffer size =    28.69 MiB",
        "load_tensors: RPC0[10.0.0.1:50052] model buffer size =    10.00 MiB",
        "load_tensors: RPC0[10.0.0.2:50052] model buffer size =    20.50 MiB",
        "llama_kv_cache: RPC0[10.0.0.2:50052] KV buffer size =     1.00 MiB",
        "sched_reserve:        CPU compute buffer size =     7.68 MiB",
    ]
    devices = [{"name": "RPC3", "endpoint": "10.0.0.1:50052", "index": 0, "type": "RPC"},
               {"name": "RPC4", "endpoint": "10.0.0.2:50052", "index": 0, "type": "RPC"}]
    cpu = {"name": "CPU", "type": "CPU", "description": "a CPU"}
    first, second, local = rpc.placement(log, devices, 4, cpu)
    assert (first["layers"], first["n_layers"], first["output_layer"]) == ([0, 1], 2, False)
    assert (second["layers"], second["n_layers"], second["output_layer"]) == ([2, 3], 2, True)
    assert first["weights_bytes"] == 10 * 2**20 and second["kv_bytes"] == 2**20
    assert local["input_layer"] and local["weights_bytes"] == round(28.69 * 2**20)
    assert local["endpoint"] is None and local["compute_bytes"] == round(7.68 * 2**20)
    # A log that names no layer (its wording changed): the split rule, said to be computed.
    quiet = rpc.placement(log[5:], devices, 4, cpu, computed=[[0, 1], [2, 3, 4]])
    assert quiet[0]["layers_from"] == "computed" and quiet[1]["output_layer"]


def test_crash_message_names_the_worker_that_stopped() -> None:
    tail = ["/src/ggml-rpc.cpp:566: Remote RPC server crashed or returned malformed response",
            "#3 0x7f in abort () from libc"]
    assert rpc_failure(tail) and not rpc_failure(["GGML_ASSERT(x) failed"])
    one = describe_exit(-6, tail, workers=["a:1", "b:2"], workers_gone=["b:2"])
    assert "the worker at b:2 stopped answering" in one and "[SIGABRT]" in one
    assert "remaining worker a:1" in one and "conversation is kept" in one
    unknown = describe_exit(-6, tail, workers=["a:1"], workers_gone=[])
    assert "a worker stopped answering (a:1)" in unknown
    assert "on this computer." in unknown
    # Without workers, or without RPC's last words, the usual description.
    assert describe_exit(-6, tail).startswith("the model process aborted")
    assert "worker" not in describe_exit(-6, ["GGML_ASSERT(x) failed"], workers=["a:1"])


def test_a_build_without_rpc_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp

    monkeypatch.setattr(rpc, "_api_instance", [])
    monkeypatch.setattr(llama_cpp, "llama_supports_rpc", lambda: False)
    assert not rpc.rpc_supported()
    with pytest.raises(rpc.RpcError) as err:
        rpc.add_workers(["127.0.0.1:1"])
    assert 'CMAKE_ARGS="-DGGML_RPC=on"' in str(err.value) and "built without RPC" in str(
        err.value)
