"""`chatapp models ...` end to end: the real command, the real huggingface_hub client against a
Hub-compatible server on 127.0.0.1, real files, a real model process for `devices`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from chatapp.paths import models_dir
from tests.hubserver import Fault, HubServer
from tests.net import free_port

STARTER_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def _run(*args: str, endpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if endpoint is not None:
        env["HF_ENDPOINT"] = endpoint
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    return subprocess.run([sys.executable, "-m", "chatapp", "models", *args], env=env,
                          capture_output=True, text=True, timeout=240)


def _json(*args: str, endpoint: str | None = None) -> Any:
    done = _run(*args, "--json", endpoint=endpoint)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _serve(server: HubServer, starter: Path, small: Path) -> None:
    server.add_repo("smol/SmolLM2-135M-Instruct-GGUF", {
        "SmolLM2-135M-Instruct.Q4_1.gguf": starter,
        "SmolLM2-135M-Instruct.F16.gguf": small,  # a stand-in: the listing only needs a name
    }, downloads=900, likes=5)
    server.add_repo("tiny/tiny-GGUF", {"tiny-Q8_0.gguf": small}, downloads=10, likes=50)
    server.add_repo("other/not-gguf", {"model.safetensors": b"x" * 10}, tags=("pytorch",))


def test_search_and_files(hub_server: HubServer, starter_model: Path, small_gguf: Path) -> None:
    _serve(hub_server, starter_model, small_gguf)
    end = hub_server.endpoint
    by_downloads = _json("search", "gguf", endpoint=end)
    assert [r["repo_id"] for r in by_downloads] == ["smol/SmolLM2-135M-Instruct-GGUF",
                                                    "tiny/tiny-GGUF"]
    by_likes = _json("search", "gguf", "--sort", "likes", endpoint=end)
    assert by_likes[0]["repo_id"] == "tiny/tiny-GGUF"
    text = _run("search", "smol", endpoint=end)
    assert text.returncode == 0 and "smol/SmolLM2-135M-Instruct-GGUF" in text.stdout

    files = _json("files", "smol/SmolLM2-135M-Instruct-GGUF", "--no-fit", endpoint=end)
    by_quant = {f["quantization"]: f for f in files}
    assert set(by_quant) == {"Q4_1", "F16"}
    q4 = by_quant["Q4_1"]
    assert q4["size"] == starter_model.stat().st_size
    assert q4["parts"][0]["sha256"] == STARTER_SHA256
    assert q4["fit"] is None


def test_files_estimate_fit_from_the_remote_header(
        hub_server: HubServer, starter_model: Path, small_gguf: Path) -> None:
    hub_server.add_repo("smol/one", {"SmolLM2-135M-Instruct.Q4_1.gguf": starter_model})
    (row,) = _json("files", "smol/one", "--context", "2048", endpoint=hub_server.endpoint)
    fit = row["fit"]
    assert fit["kind"] in ("cpu", "gpu", "partial")  # this machine has the RAM for 135M
    assert fit["n_ctx"] == 2048 and fit["n_layer"] == 30
    # The weights alone are the file's size; the estimate adds the KV cache and buffers.
    assert fit["need_host"] + fit["need_gpu"] > starter_model.stat().st_size
    # Only the header was read, not the model.
    assert hub_server.bytes_served("smol/one", "SmolLM2-135M-Instruct.Q4_1.gguf") < 8 * 2**20


def test_download_resumes_verifies_and_lands_in_the_library(
        hub_server: HubServer, starter_model: Path, small_gguf: Path) -> None:
    _serve(hub_server, starter_model, small_gguf)
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    hub_server.set_fault("smol/SmolLM2-135M-Instruct-GGUF", name,
                         Fault(drop_at=[10_000_000, 61_000_000]))
    done = _run("download", "smol/SmolLM2-135M-Instruct-GGUF", "Q4_1",
                endpoint=hub_server.endpoint)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == models_dir() / name
    served = hub_server.bytes_served("smol/SmolLM2-135M-Instruct-GGUF", name)
    assert served < 1.5 * starter_model.stat().st_size  # resumed, not restarted
    listed = _json("list")
    (entry,) = listed
    assert entry["name"] == name and entry["usable"]
    assert entry["sha256"] == STARTER_SHA256 and entry["support"] == "ok"
    assert entry["source"]["repo_id"] == "smol/SmolLM2-135M-Instruct-GGUF"


def test_a_flipped_byte_never_reaches_the_library(
        hub_server: HubServer, starter_model: Path, small_gguf: Path) -> None:
    _serve(hub_server, starter_model, small_gguf)
    hub_server.set_fault("tiny/tiny-GGUF", "tiny-Q8_0.gguf", Fault(flip_byte_at=1000))
    done = _run("download", "tiny/tiny-GGUF", "tiny-Q8_0.gguf", endpoint=hub_server.endpoint)
    assert done.returncode == 1
    assert "SHA-256" in done.stderr and "Traceback" not in done.stderr
    assert not list(models_dir().glob("*.gguf"))
    assert _json("list") == []


def test_import_remove_and_errors(
        hub_server: HubServer, small_gguf: Path, tmp_path: Path) -> None:
    imported = _json("import", str(small_gguf))
    assert imported["origin"] == "imported" and imported["usable"]
    assert [e["name"] for e in _json("list", "--no-check")] == [small_gguf.name]
    removed = _run("remove", small_gguf.name)
    assert removed.returncode == 0 and "forgotten" in removed.stdout
    assert small_gguf.is_file() and _json("list") == []

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    refused = _run("import", str(bad))
    assert refused.returncode == 1 and "not a usable model file" in refused.stderr

    missing = _run("files", "nobody/nothing", endpoint=hub_server.endpoint)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "not found" in missing.stderr.lower()

    port = free_port()  # nobody listens there: the Hub is unreachable
    offline = _run("search", "x", endpoint=f"http://127.0.0.1:{port}")
    assert offline.returncode == 1 and "Traceback" not in offline.stderr
    assert offline.stderr.startswith("chatapp: error: ")


def test_devices_reports_this_machine() -> None:
    report = _json("devices")
    cpu = [d for d in report["devices"] if d["type"] == "CPU"]
    assert cpu and isinstance(cpu[0]["memory_free"], int) and cpu[0]["memory_free"] > 0
    assert isinstance(report["gpu_offload"], bool)
    assert isinstance(report["cpu_features"], list)
    text = _run("devices")
    assert text.returncode == 0 and "CPU" in text.stdout
