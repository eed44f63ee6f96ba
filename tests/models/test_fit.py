"""Tests for the "will it fit" estimate (chatapp.models.fit) and "auto" GPU layers (runtime).

The test that counts, ``test_estimate_is_within_20_percent_of_the_measured_memory``, loads the
real starter model in real model processes; the rest are fast tests of the arithmetic, on the
real starter model's shape.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatapp.core.sampling import SamplingSettings
from chatapp.core.units import format_bytes
from chatapp.engine.gguf_preflight import GGUFInfo, inspect_gguf
from chatapp.models.fit import (
    GIB,
    MIB,
    FitError,
    MemoryNeed,
    ModelShape,
    assess,
    best_gpu_layers,
    estimate,
    graph_peak,
)

N_LAYER = 30  # SmolLM2-135M


@pytest.fixture(scope="module")
def info(starter_model: Path) -> GGUFInfo:
    """The starter model's pre-flight header."""
    return inspect_gguf(starter_model)


@pytest.fixture(scope="module")
def shape(info: GGUFInfo) -> ModelShape:
    """The starter model's shape."""
    return ModelShape.from_info(info)


def _cpu(free: int | None) -> dict[str, Any]:
    return {"name": "CPU", "description": "test CPU", "type": "CPU", "backend": "CPU",
            "memory_total": 64 * GIB, "memory_free": free}


def _gpu(free: int | None, kind: str = "GPU") -> dict[str, Any]:
    return {"name": "CUDA0", "description": "test GPU", "type": kind, "backend": "CUDA",
            "memory_total": 24 * GIB, "memory_free": free}


# --- the model's shape ---------------------------------------------------------------------------


def test_shape_of_the_starter_model(shape: ModelShape, info: GGUFInfo) -> None:
    assert (shape.n_layer, shape.n_head, shape.n_head_kv) == (N_LAYER, 9, 3)
    assert (shape.head_dim_k, shape.head_dim_v) == (64, 64)  # 576 / 9: no key_length key
    assert (shape.n_embd, shape.n_vocab, shape.n_ff) == (576, 49152, 1536)
    assert shape.context_length == 8192
    assert shape.weights_bytes == shape.block_bytes + shape.other_bytes == 96_576_768
    assert shape.block_bytes == info.block_bytes and shape.other_bytes == info.other_bytes
    assert shape.n_tensors == 272
    assert shape.output_tied and shape.output_bytes == info.output_bytes


def test_shape_from_a_2_mb_prefix_is_the_same(
    starter_model: Path, shape: ModelShape, tmp_path: Path
) -> None:
    prefix = tmp_path / "first-2mb.gguf"
    with starter_model.open("rb") as f:
        prefix.write_bytes(f.read(2 * MIB))
    size = starter_model.stat().st_size
    from_prefix = inspect_gguf(prefix, declared_size=size)
    assert ModelShape.from_info(from_prefix) == shape
    # The Hub passes the file's size: for the file the header came from, nothing changes.
    assert ModelShape.from_info(from_prefix, total_file_bytes=size) == shape


def test_split_model_is_scaled_to_all_its_parts(info: GGUFInfo) -> None:
    first = dataclasses.replace(info, split_count=3)
    with pytest.raises(FitError, match="first of 3 parts"):
        ModelShape.from_info(first)
    header = info.file_size - info.block_bytes - info.other_bytes
    total = header + 3 * (info.block_bytes + info.other_bytes)
    whole = ModelShape.from_info(first, total_file_bytes=total)
    assert whole.weights_bytes == total - header
    assert abs(whole.block_bytes - 3 * info.block_bytes) <= 1
    assert whole.n_tensors == 3 * info.tensor_count
    assert not whole.output_tied  # the output layer is in a part this header does not list
    with pytest.raises(FitError, match="too little for its own header"):
        ModelShape.from_info(first, total_file_bytes=header)


def test_another_quantization_is_scaled_to_its_own_size(info: GGUFInfo, shape: ModelShape) -> None:
    header = info.file_size - shape.weights_bytes
    bigger = ModelShape.from_info(info, total_file_bytes=header + 2 * shape.weights_bytes)
    assert bigger.weights_bytes == 2 * shape.weights_bytes
    assert bigger.block_bytes == 2 * shape.block_bytes
    assert bigger.n_layer == shape.n_layer and bigger.n_tensors == shape.n_tensors
    assert estimate(bigger, 2048).total > estimate(shape, 2048).total


def test_headers_without_what_an_estimate_needs(info: GGUFInfo) -> None:
    with pytest.raises(FitError, match="how many layers") as err:
        ModelShape.from_info(dataclasses.replace(info, block_count=None))
    assert str(err.value).endswith(".")
    with pytest.raises(FitError, match="attention heads"):
        ModelShape.from_info(dataclasses.replace(info, head_count=None))
    with pytest.raises(FitError, match="vocabulary"):
        ModelShape.from_info(dataclasses.replace(info, vocab_size=None, metadata={}))
    # key/value lengths from the header win over n_embd / n_head
    wide = ModelShape.from_info(dataclasses.replace(info, key_length=128, value_length=96))
    assert (wide.head_dim_k, wide.head_dim_v) == (128, 96)


# --- one configuration ---------------------------------------------------------------------------


def test_kv_cache_is_what_llama_cpp_allocates(shape: ModelShape) -> None:
    # llama.cpp logged 45.00 MiB, 180.00 MiB, and 22.50 MiB for 1000 tokens (1024 cells).
    assert estimate(shape, 2048).kv_host == 45 * MIB
    assert estimate(shape, 8192).kv_host == 180 * MIB
    assert estimate(shape, 1000).kv_host == estimate(shape, 1024).kv_host == 45 * MIB // 2
    # a q8_0 cache: 34 bytes per 32 elements
    assert estimate(shape, 2048, kv_bytes_per_element=34 / 32).kv_host == 45 * MIB * 17 // 32


def test_compute_arena_is_what_llama_cpp_allocates(shape: ModelShape) -> None:
    # "CPU compute buffer size" logged by llama.cpp 0.3.36 for SmolLM2 (n_ubatch 512 unless
    # said): 2048 → 99.3770 MiB, 8192 → 166.3848 MiB, 8192 at n_ubatch 256 → 83.1924 MiB,
    # 2048 at 128 → 24.8442 MiB, 512 → 98.2520 MiB; flash attention, 8192 → 98.2520 MiB.
    cases = [
        (2048, 512, False, 99.3770), (8192, 512, False, 166.3848),
        (8192, 256, False, 83.1924), (2048, 128, False, 24.8442),
        (512, 512, False, 98.2520), (8192, 512, True, 98.2520),
    ]
    for n_ctx, n_batch, flash, logged_mib in cases:
        got = graph_peak(shape, n_ctx, n_batch=n_batch, flash_attn=flash) / MIB
        assert abs(got - logged_mib) <= 0.015 * logged_mib, (n_ctx, n_batch, flash, got)


def test_more_context_never_needs_less(shape: ModelShape) -> None:
    for layers in (0, 10, N_LAYER, N_LAYER + 1):
        previous = estimate(shape, 256, layers)
        for n_ctx in range(512, 40_000, 700):
            need = estimate(shape, n_ctx, layers)
            assert need.host >= previous.host and need.gpu >= previous.gpu, (layers, n_ctx)
            previous = need
    assert estimate(shape, 32768).total > 2 * estimate(shape, 2048).total


def test_more_layers_move_memory_from_the_host_to_the_gpu(shape: ModelShape) -> None:
    needs = [estimate(shape, 4096, layers) for layers in range(N_LAYER + 2)]
    assert needs[0].gpu == 0
    for fewer, more in itertools.pairwise(needs):
        assert more.gpu > fewer.gpu
        assert more.host <= fewer.host
    assert needs[N_LAYER].weights_host == shape.other_bytes  # the embeddings stay home
    # all layers + output: a tied output layer is a copy of the embeddings, the host keeps its
    full = needs[N_LAYER + 1]
    assert full.weights_gpu == shape.block_bytes + shape.output_bytes
    assert full.weights_host == shape.other_bytes
    assert full.kv_host == 0 and full.kv_gpu == estimate(shape, 4096).kv_host
    assert full.compute_host < needs[N_LAYER].compute_host  # only the inputs are built there
    # "all" is n_layer + 1 however it is asked for
    assert estimate(shape, 4096, -1) == estimate(shape, 4096, 99) == full


def test_an_untied_output_layer_leaves_the_host(shape: ModelShape) -> None:
    untied = dataclasses.replace(shape, output_tied=False, output_bytes=shape.other_bytes // 2)
    need = estimate(untied, 2048, N_LAYER + 1)
    assert need.weights_gpu == untied.block_bytes + untied.output_bytes
    assert need.weights_host == untied.other_bytes - untied.output_bytes
    assert need.weights_host + need.weights_gpu == untied.weights_bytes


def test_memory_need_sums() -> None:
    need = MemoryNeed(weights_host=1, weights_gpu=20, kv_host=300, kv_gpu=4000,
                      compute_host=50_000, compute_gpu=600_000)
    assert (need.host, need.gpu, need.total) == (50_301, 604_020, 654_321)


def test_nonsense_settings_are_refused(shape: ModelShape) -> None:
    for kwargs in ({"n_ctx": 0}, {"n_ctx": 2048, "n_batch": 0},
                   {"n_ctx": 2048, "kv_bytes_per_element": 0.0}):
        with pytest.raises(ValueError):
            estimate(shape, **kwargs)


# --- the GPU layer choice ------------------------------------------------------------------------


def test_best_gpu_layers_is_exact_at_every_boundary(shape: ModelShape) -> None:
    reserve = 512 * MIB
    for layers in range(1, N_LAYER + 2):
        gpu = estimate(shape, 8192, layers).gpu
        assert best_gpu_layers(shape, 8192, gpu + reserve) == layers
        assert best_gpu_layers(shape, 8192, gpu + reserve - 1) == layers - 1
    assert best_gpu_layers(shape, 8192, 100 * GIB) == N_LAYER + 1
    assert best_gpu_layers(shape, 8192, reserve) == 0
    assert best_gpu_layers(shape, 8192, 0) == 0
    assert best_gpu_layers(shape, 8192, 300 * MIB, reserve_vram=0) > 0


def test_best_gpu_layers_grows_with_vram_and_shrinks_with_context(shape: ModelShape) -> None:
    chosen = [best_gpu_layers(shape, 8192, mib * MIB) for mib in range(500, 1200, 7)]
    assert chosen == sorted(chosen) and chosen[0] == 0 and chosen[-1] == N_LAYER + 1
    by_context = [best_gpu_layers(shape, n_ctx, 900 * MIB) for n_ctx in (512, 2048, 8192, 32768)]
    assert by_context == sorted(by_context, reverse=True) and by_context[0] > by_context[-1]


# --- this machine --------------------------------------------------------------------------------


def test_no_gpu_and_enough_ram_runs_on_the_cpu(shape: ModelShape) -> None:
    verdict = assess(shape, 8192, [_cpu(16 * GIB)])
    assert (verdict.kind, verdict.gpu_layers, verdict.n_layer) == ("cpu", 0, N_LAYER)
    assert verdict.need == estimate(shape, 8192)
    assert (verdict.ram_free, verdict.vram_free) == (16 * GIB, None)
    text = verdict.summary()
    assert "no GPU" in text and "8,192 tokens" in text
    # Sizes as the rest of the app writes them (decimal units: 16 GiB is "17 GB").
    assert f"{format_bytes(verdict.need.host)} of RAM" in text and "(17 GB free)" in text


def test_ram_boundary_between_cpu_and_too_big(shape: ModelShape) -> None:
    need = estimate(shape, 8192).host
    reserve = 1024 * MIB
    assert assess(shape, 8192, [_cpu(need + reserve)]).kind == "cpu"
    too_big = assess(shape, 8192, [_cpu(need + reserve - 1)])
    assert (too_big.kind, too_big.gpu_layers) == ("too_big", 0)
    text = too_big.summary()
    assert "Too big" in text and "shorter context" in text
    # Decimal units, as everywhere in the app: 481 MiB is "505 MB", 1.5 GiB "1.6 GB".
    assert "505 MB of RAM" in text and "1.6 GB is free of which 1.1 GB is kept" in text
    assert assess(shape, 8192, [_cpu(need)], reserve_ram=0).kind == "cpu"


def test_gpu_partial_and_useless_gpu(shape: ModelShape) -> None:
    ram = [_cpu(16 * GIB)]
    full = assess(shape, 8192, [*ram, _gpu(8 * GIB)])
    assert (full.kind, full.gpu_layers) == ("gpu", N_LAYER + 1)
    assert full.need == estimate(shape, 8192, N_LAYER + 1)
    assert f"all {N_LAYER} layers" in full.summary()

    vram = estimate(shape, 8192, 12).gpu + 512 * MIB
    partial = assess(shape, 8192, [*ram, _gpu(vram)])
    assert (partial.kind, partial.gpu_layers) == ("partial", 12)
    assert "12 of 30 layers" in partial.summary()

    useless = assess(shape, 8192, [*ram, _gpu(600 * MIB)])  # less than one layer's need
    assert (useless.kind, useless.gpu_layers, useless.vram_free) == ("cpu", 0, 600 * MIB)
    assert "too little for one layer" in useless.summary()


def test_gpus_add_up_and_integrated_gpus_do_not_count(shape: ModelShape) -> None:
    half = (estimate(shape, 8192, N_LAYER + 1).gpu + 512 * MIB) // 2 + 1
    two = assess(shape, 8192, [_cpu(16 * GIB), _gpu(half), _gpu(half)])
    assert (two.kind, two.vram_free, two.gpu_count) == ("gpu", 2 * half, 2)
    igpu = assess(shape, 8192, [_cpu(16 * GIB), _gpu(8 * GIB, kind="iGPU")])
    assert (igpu.kind, igpu.gpu_count) == ("cpu", 0)


def test_unknown_memory(shape: ModelShape) -> None:
    # RAM unknown: not "too big" (nothing says so), and the sentence says it is unknown
    no_ram = assess(shape, 8192, [_cpu(None)])
    assert (no_ram.kind, no_ram.ram_free) == ("cpu", None)
    assert "free RAM unknown" in no_ram.summary()
    assert assess(shape, 8192, []).kind == "cpu"  # no devices at all
    assert assess(shape, 8192, [_cpu(None), _gpu(8 * GIB)]).kind == "gpu"
    # GPU memory unknown (one of two GPUs is enough): no layers are risked on it
    for gpus in ([_gpu(None)], [_gpu(8 * GIB), _gpu(None)]):
        verdict = assess(shape, 8192, [_cpu(16 * GIB), *gpus])
        assert (verdict.kind, verdict.gpu_layers, verdict.vram_free) == ("cpu", 0, None)
        assert "free memory is unknown" in verdict.summary()
    # "memory_free": 0 is how a backend says "don't know"
    assert assess(shape, 8192, [_cpu(0), _gpu(0)]).vram_free is None


def test_too_big_even_with_a_gpu(shape: ModelShape) -> None:
    vram = estimate(shape, 8192, 10).gpu + 512 * MIB
    verdict = assess(shape, 8192, [_cpu(GIB), _gpu(vram)])
    assert (verdict.kind, verdict.gpu_layers) == ("too_big", 0)
    assert verdict.need == estimate(shape, 8192)
    assert "GPU memory free" in verdict.summary()


# --- "auto" GPU layers where the model loads (chatapp.engine.runtime) ---------------------------


def test_auto_gpu_layers_from_the_device_list(info: GGUFInfo, shape: ModelShape) -> None:
    from chatapp.engine.runtime import choose_gpu_layers

    def choose(requested: int, devices: list[dict[str, Any]], offload: bool = True) -> int:
        return choose_gpu_layers(requested, info, 4096, devices, offload_supported=offload)[0]

    ram = _cpu(16 * GIB)
    assert choose(-1, [ram]) == 0  # no GPU (this machine)
    assert choose(-1, [ram, _gpu(8 * GIB)]) == N_LAYER + 1
    middle = estimate(shape, 4096, 17).gpu + 512 * MIB
    assert choose(-1, [ram, _gpu(middle)]) == 17
    assert choose(-1, [ram, _gpu(None)]) == 0  # free memory unknown: nothing risked
    assert choose(-1, [ram, _gpu(8 * GIB)], offload=False) == 0  # a CPU-only build
    assert choose(12, [ram, _gpu(8 * GIB)]) == 12  # the user's own number stands
    assert choose(0, [ram, _gpu(8 * GIB)]) == 0
    # RAM too small even with the GPU's help: as many layers as the GPU takes (least RAM)
    few = estimate(shape, 4096, 8).gpu + 512 * MIB
    layers, verdict = choose_gpu_layers(-1, info, 4096, [_cpu(GIB), _gpu(few)],
                                        offload_supported=True)
    assert verdict is not None and verdict.kind == "too_big" and layers == 8


def test_auto_without_an_estimate_keeps_llama_cpps_all(info: GGUFInfo) -> None:
    from chatapp.engine.runtime import choose_gpu_layers

    headless = dataclasses.replace(info, block_count=None)
    layers, verdict = choose_gpu_layers(-1, headless, 4096, [_cpu(GIB), _gpu(8 * GIB)],
                                        offload_supported=True)
    assert (layers, verdict) == (-1, None)
    assert choose_gpu_layers(-1, headless, 4096, [], offload_supported=False) == (0, None)


def test_split_model_parts_are_found_next_to_the_first(info: GGUFInfo, tmp_path: Path) -> None:
    from chatapp.engine.runtime import choose_gpu_layers

    sizes = [info.file_size, 50_000_000, 40_000_000]
    for i, size in enumerate(sizes, 1):
        with (tmp_path / f"m-{i:05d}-of-00003.gguf").open("wb") as f:
            f.truncate(size)  # sparse: only the sizes matter
    first = dataclasses.replace(info, split_count=3)
    path = str(tmp_path / "m-00001-of-00003.gguf")
    _, verdict = choose_gpu_layers(0, first, 2048, [_cpu(16 * GIB)], offload_supported=False,
                                   path=path)
    header = info.file_size - info.block_bytes - info.other_bytes
    assert verdict is not None
    assert verdict.need.weights_host == sum(sizes) - header
    (tmp_path / "m-00003-of-00003.gguf").unlink()  # a part missing: no estimate
    assert choose_gpu_layers(0, first, 2048, [_cpu(16 * GIB)], offload_supported=False,
                             path=path) == (0, None)


# --- the test that counts: the estimate against a real model process -----------------------------


def _rss(pid: int) -> int:
    """VmRSS of a process, in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


_BUFFER_LINE = re.compile(
    r"CPU(?:_Mapped)?\s+(model|KV|compute|output) buffer size =\s*([\d.]+) MiB"
)


def _logged_buffers(log: Path) -> dict[str, float]:
    """llama.cpp's own buffer sizes from the model process's log, in MiB."""
    found: dict[str, float] = {}
    for line in log.read_text("utf-8", "replace").splitlines():
        match = _BUFFER_LINE.search(line)
        if match:
            found[match[1]] = float(match[2])
    return found


@dataclasses.dataclass
class _Measured:
    """One model process's figures (bytes) at one context length."""

    n_ctx: int
    committed: int  # RSS growth with every allocated byte touched (MALLOC_PERTURB_)
    light: int  # RSS growth as it is after a short reply
    buffers: dict[str, float]
    loaded: dict[str, Any]


def _measure(model: Path, n_ctx: int, folder: Path, *, touch_all: bool) -> tuple[int, Any, Any]:
    """Start a model process, load `model`, generate a few tokens; RSS growth, load event,
    log path."""
    from chatapp.engine.client import EngineClient

    env = dict(os.environ, CHATAPP_ENGINE_DEBUG="1")  # llama.cpp's INFO lines into the log
    if touch_all:
        env["MALLOC_PERTURB_"] = "165"
    log = folder / f"engine-{n_ctx}-{'all' if touch_all else 'light'}.log"
    client = EngineClient(log_path=log, env=env, restart=False)
    client.start()
    try:
        pid = client.pid
        assert pid is not None
        before = _rss(pid)
        loaded = client.load(model, n_ctx=n_ctx, n_gpu_layers=-1)
        events = list(client.generate(
            [{"role": "user", "content": "Name three colours."}],
            SamplingSettings(temperature=0.0, max_tokens=8), records=False,
        ))
        assert events[-1]["generated_tokens"] >= 1
        after = _rss(pid)
    finally:
        client.shutdown()
    return after - before, loaded, log


@pytest.fixture(scope="module")
def measured(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        list[_Measured]]:
    """The starter model measured at 2048 and 8192 tokens of context, in fresh processes."""
    folder = tmp_path_factory.mktemp("fit")
    out = []
    for n_ctx in (2048, 8192):
        committed, loaded, log = _measure(starter_model, n_ctx, folder, touch_all=True)
        light, _, _ = _measure(starter_model, n_ctx, folder, touch_all=False)
        out.append(_Measured(n_ctx, committed, light, _logged_buffers(log), loaded))
    yield out


def test_estimate_is_within_20_percent_of_the_measured_memory(
    measured: list[_Measured], shape: ModelShape
) -> None:
    """The estimate against the memory a real model process takes for the starter model.

    What "measured" means: the growth of the model process's resident memory (VmRSS) from
    before the load to after a short reply, in a process whose C library fills every block it
    hands out (glibc's MALLOC_PERTURB_), so that every byte llama.cpp allocates is resident.
    Plain RSS would not do: the weights are mapped from the file and count once touched (all of
    them are, by the load and the first token), and the KV cache is cleared by llama.cpp so it
    counts at once, but of the compute arena (99 MB at 2,048 tokens, 166 MB at 8,192) a short
    reply touches only a few megabytes. That arena is sized for the worst batch against a full
    context and does get touched as a long conversation fills the context; a GPU allocates it
    physically at load, and Windows charges every allocation at once. So the honest figure for
    "will it fit" is what is allocated, and that is what the filled allocations make RSS show,
    without changing anything llama.cpp allocates. (Filling 8,192 tokens of context for real
    would take minutes on two cores.)

    Plain RSS growth after a short reply is printed too, and must stay under the estimate.
    llama.cpp's own buffer sizes, from its log, are checked against their parts of the estimate.
    """
    lines = ["", "fit estimate vs measured, SmolLM2-135M-Instruct Q4_1, CPU, batch 512:"]
    for m in measured:
        need = estimate(shape, m.n_ctx)
        error = (need.total - m.committed) / m.committed
        lines.append(
            f"  n_ctx {m.n_ctx:5}: estimate {need.total / MIB:6.1f} MiB, allocated (measured) "
            f"{m.committed / MIB:6.1f} MiB ({error:+.1%}), resident after a short reply "
            f"{m.light / MIB:6.1f} MiB; llama.cpp's log: " + ", ".join(
                f"{name} {value:.2f}" for name, value in sorted(m.buffers.items()))
        )
        assert abs(need.total - m.committed) <= 0.20 * m.committed, lines[-1]
        assert m.light <= need.total, lines[-1]  # never under what is really resident
        # the parts, against what llama.cpp says it allocated
        assert set(m.buffers) == {"model", "KV", "compute", "output"}, m.buffers
        assert abs(need.weights_host / MIB - m.buffers["model"]) <= 0.01
        assert abs(need.kv_host / MIB - m.buffers["KV"]) <= 0.01
        peak = graph_peak(shape, m.n_ctx) / MIB
        assert abs(peak - m.buffers["compute"]) <= 0.015 * m.buffers["compute"]
    print("\n".join(lines))


def test_auto_gpu_layers_in_the_model_process(measured: list[_Measured]) -> None:
    """Loaded with "auto" on this machine (llama.cpp built for the CPU): nothing offloaded,
    and the loaded event says that it was chosen and why."""
    for m in measured:
        model = m.loaded["model"]
        assert model["gpu_layers_auto"] is True
        assert model["n_gpu_layers_requested"] == -1
        assert model["n_gpu_layers"] == 0
        fit = model["fit"]
        assert fit["kind"] in ("cpu", "too_big") and fit["gpu_layers"] == 0
        assert fit["n_layer"] == N_LAYER and fit["need_gpu_bytes"] == 0
        assert fit["need_host_bytes"] > 200 * MIB
        assert fit["summary"].startswith(("Runs on the CPU", "Too big"))
