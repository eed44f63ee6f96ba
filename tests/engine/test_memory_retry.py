"""Out of memory at load: recognised, said in words, retried with smaller settings; and the
model process's `devices` answer.

The real tests cap a real model process's address space (CHATAPP_ENGINE_MEMORY_LIMIT, RLIMIT_AS)
so that llama.cpp really fails to allocate, on the CPU, with the real starter model.
"""

from __future__ import annotations

import os
import re
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatapp.core.sampling import SamplingSettings
from chatapp.engine.client import EngineClient, EngineError
from chatapp.engine.memory_retry import (
    MIN_CONTEXT,
    WEIGHTS,
    allocation_size,
    allocation_target,
    format_size,
    is_memory_error,
    memory_message,
    resolve_gpu_layers,
    retry_options,
)
from chatapp.engine.runtime import LoadSettings

MIB = 1024 * 1024
HELLO = [{"role": "user", "content": "Tell me a long story about a dragon."}]

# What llama.cpp 0.3.36 logged here when the KV cache did not fit under RLIMIT_AS.
CPU_KV_LINES = [
    "ggml_aligned_malloc: insufficient memory (attempted to allocate 2880.00 MB)",
    "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 3019898880",
    "alloc_tensor_range: failed to allocate CPU buffer of size 3019898880",
    "llama_init_from_model: failed to initialize the context: failed to allocate buffer for "
    "kv cache",
]
CTX_MESSAGE = "Failed to create llama_context"
MODEL_MESSAGE = "Failed to load model from file: /models/compute-kv cache/x.gguf"


# -- pure logic -------------------------------------------------------------------------------


@pytest.mark.parametrize("lines", [
    CPU_KV_LINES,
    ["llama_model_load: error loading model: mmap failed: Cannot allocate memory"],
    ["ggml_backend_cuda_buffer_type_alloc_buffer: allocating 2880.00 MiB on device 0: "
     "cudaMalloc failed: out of memory"],
    ["ggml_metal_buffer_init: error: failed to allocate buffer, size = 2880.00 MiB"],
    ["ggml_vulkan: Device memory allocation of size 3019898880 failed.",
     "ggml_vulkan: vk::Device::allocateMemory: ErrorOutOfDeviceMemory"],
    ["llama_model_load: error loading model: unable to allocate CUDA0 buffer"],
    ["graph_reserve: failed to allocate compute buffers"],
])
def test_allocation_failures_of_every_backend_are_memory_errors(lines: list[str]) -> None:
    assert is_memory_error(CTX_MESSAGE, lines)


@pytest.mark.parametrize("lines", [
    ["llama_model_load: error loading model: unknown model architecture: 'foo'"],
    ["llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' data is not within "
     "the file bounds, model is corrupted or incomplete"],
    ["llama_model_load: error loading model: missing tensor 'output_norm.weight'"],
    ["error loading model vocabulary: cannot find tokenizer merges in model file"],
    [],
])
def test_other_load_failures_are_not_memory_errors(lines: list[str]) -> None:
    assert not is_memory_error("Failed to load model from file: /m/x.gguf", lines)


def test_gpu_retry_offers_fewer_layers_then_cpu_then_a_smaller_context() -> None:
    settings = LoadSettings(path="m.gguf", n_ctx=8192, n_gpu_layers=30)
    assert retry_options(settings, 30) == [
        {"n_gpu_layers": 15, "label": "15 GPU layers"},
        {"n_gpu_layers": 0, "label": "CPU only"},
        {"n_ctx": 4096, "label": "context 4096"},
    ]
    # one layer left: halving it is the CPU already; a minimal context is not cut further
    assert retry_options(LoadSettings(path="m", n_ctx=MIN_CONTEXT), 1) == [
        {"n_gpu_layers": 0, "label": "CPU only"}]
    # the weights did not fit: a smaller context would not help
    assert retry_options(settings, 30, weights=True) == [
        {"n_gpu_layers": 15, "label": "15 GPU layers"},
        {"n_gpu_layers": 0, "label": "CPU only"},
    ]


def test_cpu_retry_halves_the_context_down_to_512() -> None:
    options = retry_options(LoadSettings(path="m", n_ctx=131072), 0)
    assert [o["n_ctx"] for o in options] == [65536, 32768, 16384, 8192, 4096, 2048, 1024, 512]
    assert all(o["label"] == f"context {o['n_ctx']}" and set(o) == {"n_ctx", "label"}
               for o in options)
    assert [o["n_ctx"] for o in retry_options(LoadSettings(path="m", n_ctx=3000), 0)] == [
        1500, 750]
    assert retry_options(LoadSettings(path="m", n_ctx=1023), 0) == []
    assert retry_options(LoadSettings(path="m", n_ctx=8192), 0, weights=True) == []


def test_resolved_gpu_layers_count_like_the_loaded_model() -> None:
    assert resolve_gpu_layers(-1, 30, True) == 31  # all layers and the output layer
    assert resolve_gpu_layers(99, 30, True) == 31
    assert resolve_gpu_layers(12, 30, True) == 12
    assert resolve_gpu_layers(-1, 30, False) == 0  # a CPU build offloads nothing
    assert resolve_gpu_layers(-1, None, True) == 1
    assert resolve_gpu_layers(0, 30, True) == 0


def test_the_message_says_what_ran_out_how_much_and_what_to_do() -> None:
    kv = ["llama_init_from_model: failed to initialize the context: failed to allocate buffer "
          "for kv cache", "alloc_tensor_range: failed to allocate CPU buffer of size 754974720"]
    assert memory_message(CTX_MESSAGE, kv, n_ctx=32768, gpu_layers=0) == (
        "Not enough memory to load this model with a 32768-token context (llama.cpp could not "
        "allocate 755 MB for the KV cache); try a smaller context or close other programs.")
    gpu = memory_message(CTX_MESSAGE, ["graph_reserve: failed to allocate compute buffers",
                                       "allocating 1024.00 MiB on device 0: cudaMalloc failed"],
                         n_ctx=8192, gpu_layers=31)
    assert "with an 8192-token context" in gpu and "1.1 GB for the compute buffers" in gpu
    assert "fewer GPU layers" in gpu
    mmap = memory_message(MODEL_MESSAGE, ["mmap failed: Cannot allocate memory"], n_ctx=4096,
                          gpu_layers=0)
    assert mmap == ("Not enough memory to load this model's weights (llama.cpp could not map "
                    "the model file into memory); close other programs or choose a smaller "
                    "(more quantized) model file.")
    unknown = memory_message(CTX_MESSAGE, ["out of memory"], n_ctx=2048, gpu_layers=0)
    assert "could not allocate memory for the context" in unknown


def test_sizes_and_targets_are_read_from_the_log() -> None:
    assert allocation_size(CPU_KV_LINES) == 2880 * MIB  # the first figure logged
    assert allocation_size(["Device memory allocation of size 1234 failed"]) == 1234
    assert allocation_size(["error: failed to allocate buffer, size = 10.50 MiB"]) == int(
        10.5 * MIB)
    assert allocation_size(["out of memory"]) is None
    assert allocation_target(CTX_MESSAGE, CPU_KV_LINES) == "the KV cache"
    # a path naming "kv cache" or "compute" does not decide: the model stage is the weights
    assert allocation_target(MODEL_MESSAGE, []) == WEIGHTS
    assert format_size(754_974_720) == "755 MB" and format_size(3_019_898_880) == "3.0 GB"
    assert format_size(10) == "1 MB"


# -- a real model process under a memory cap -----------------------------------------------


def _vm_size(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmSize:\s+(\d+) kB", status)
    assert found, status
    return int(found.group(1)) * 1024


def _address_space_limit(pid: int) -> str:
    """The soft "Max address space" of a process, as /proc shows it ("unlimited" or bytes)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            return line.split()[3]
    raise AssertionError("no address space line")


@pytest.fixture(scope="module")
def idle_vm_size() -> int:
    """What a started, idle model process maps: the base a cap must leave room above."""
    with EngineClient() as client:
        assert client.pid is not None
        return _vm_size(client.pid)


@pytest.fixture
def capped(idle_vm_size: int, tmp_path: Path) -> Iterator[Any]:
    """A factory of model processes capped at `idle + headroom` bytes of address space."""
    clients: list[EngineClient] = []

    def start(headroom: int) -> EngineClient:
        env = dict(os.environ, CHATAPP_ENGINE_MEMORY_LIMIT=str(idle_vm_size + headroom))
        client = EngineClient(env=env, log_path=tmp_path / f"engine{len(clients)}.log")
        clients.append(client)
        client.start()
        return client

    yield start
    for client in clients:
        client.shutdown()


def test_a_context_too_big_fails_in_words_and_a_retry_option_loads(
    capped: Any, starter_model: Path, idle_vm_size: int
) -> None:
    # Measured with the starter model and one thread: n_ctx 2048 needs about 360 MB above an
    # idle process, 8192 about 560 MB, 16384 about 900 MB, 131072 over 3 GB.  700 MB leaves
    # wide margins both ways.
    client: EngineClient = capped(700 * MIB)
    pid = client.pid
    assert pid is not None
    assert _address_space_limit(pid) == str(idle_vm_size + 700 * MIB)
    settings: dict[str, Any] = {"n_ctx": 131072, "n_threads": 1, "n_threads_batch": 1}
    with pytest.raises(EngineError) as err:
        client.load(starter_model, **settings)
    error = err.value
    assert error.code == "load_memory"
    assert error.message.startswith(
        "Not enough memory to load this model with a 131072-token context (llama.cpp could "
        "not allocate ")
    assert re.search(r"allocate \d\.\d GB for the KV cache\); try a smaller context",
                     error.message), error.message
    assert error.retry[0] == {"n_ctx": 65536, "label": "context 65536"}
    assert {"n_ctx": 2048, "label": "context 2048"} in error.retry
    # the failed load gave its memory back: the process maps about what it did when idle
    assert _vm_size(pid) < idle_vm_size + 200 * MIB

    loaded = None
    for option in error.retry:  # as a user clicking the first offer, then the next
        try:
            loaded = client.load(starter_model, **{**settings, **option})
        except EngineError as again:
            assert again.code == "load_memory", again.message
            assert f"{option['n_ctx']}-token context" in again.message
            continue
        break
    assert loaded is not None, "no retry option loaded"
    assert 2048 <= loaded["model"]["n_ctx"] < 131072
    assert client.pid == pid  # the same process: every failed load freed what it took
    reply = list(client.generate(HELLO, SamplingSettings(max_tokens=8, seed=1)))
    assert reply[-1]["type"] == "done" and reply[-1]["generated_tokens"] == 8


def test_weights_that_cannot_be_mapped_are_a_memory_error_without_useless_retries(
    capped: Any, starter_model: Path
) -> None:
    # Half the file's size above an idle process: the file's mapping cannot fit, and little
    # else is allocated before it.
    client: EngineClient = capped(starter_model.stat().st_size // 2)
    with pytest.raises(EngineError) as err:
        client.load(starter_model, n_ctx=2048, n_threads=1, n_threads_batch=1)
    assert err.value.code == "load_memory"
    assert err.value.message.startswith("Not enough memory to load this model's weights")
    assert err.value.retry == []  # on the CPU, a smaller context would not help


def test_no_cap_without_the_variable(starter_model: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CHATAPP_ENGINE_MEMORY_LIMIT"}
    with EngineClient(env=env) as client:
        assert client.pid is not None
        ours = resource.getrlimit(resource.RLIMIT_AS)[0]
        expected = "unlimited" if ours == resource.RLIM_INFINITY else str(ours)
        assert _address_space_limit(client.pid) == expected


# -- devices ----------------------------------------------------------------------------------


def _check_devices(event: dict[str, Any]) -> None:
    from importlib.metadata import version

    assert event["type"] == "devices"
    assert event["devices"] and all(
        {"name", "description", "type", "backend", "memory_total", "memory_free"} <= set(d)
        for d in event["devices"])
    cpu = next(d for d in event["devices"] if d["type"] == "CPU")
    assert isinstance(cpu["memory_free"], int) and cpu["memory_free"] > 0
    assert isinstance(event["gpu_offload"], bool)
    if not event["gpu_offload"]:
        assert event["backend"] == "CPU"
    assert "CPU :" in event["system_info"]
    for feature in event["cpu_features"]:
        assert f"{feature} = 1" in event["system_info"]
    assert event["engine"]["llama_cpp_python"] == version("llama_cpp_python")


def test_devices_answer_idle_loaded_and_during_a_reply(starter_model: Path) -> None:
    events: list[dict[str, Any]] = []
    with EngineClient(on_event=events.append) as client:
        idle = client.devices()
        _check_devices(idle)
        client.load(starter_model, n_ctx=1024)
        loaded = client.devices()
        _check_devices(loaded)
        assert [d["name"] for d in loaded["devices"]] == [d["name"] for d in idle["devices"]]

        reply = client.generate(HELLO, SamplingSettings(max_tokens=300, seed=1))
        assert next(reply)["type"] == "token"  # the reply is under way
        during = client.devices()
        _check_devices(during)
        assert list(reply)[-1]["type"] == "done"
        kinds = [e["type"] for e in events if e["type"] in ("devices", "done")]
        # answered at once from the reading thread, not queued behind the reply
        assert kinds == ["devices", "devices", "devices", "done"]
