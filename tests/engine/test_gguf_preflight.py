"""Tests for the bounded GGUF header pre-flight check."""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import statistics
import struct
import sys
import time
import tracemalloc
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.engine import gguf_preflight
from chatapp.engine.gguf_preflight import (
    GGML_TYPES,
    LLAMA_FTYPES,
    GGUFInfo,
    GGUFPreflightError,
    inspect_gguf,
)
from tests.engine import hostile_gguf as hg

LIMIT_S = 0.050  # every file, valid or hostile, must be judged within 50 ms

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

Outcome = GGUFInfo | GGUFPreflightError


def _judge(path: Path) -> tuple[float, Outcome]:
    """Run the check once; return its time and its result (or its own error)."""
    start = time.perf_counter()
    try:
        result: Outcome = inspect_gguf(path)
    except GGUFPreflightError as exc:
        result = exc
    return time.perf_counter() - start, result


def _judge_timed(path: Path) -> tuple[float, Outcome]:
    """Like _judge, but a run over the limit is repeated (up to 3 runs, best time kept) so that
    a scheduler hiccup on a loaded machine does not fail the test."""
    elapsed, result = _judge(path)
    for _ in range(2):
        if elapsed < LIMIT_S:
            break
        elapsed = min(elapsed, _judge(path)[0])
    return elapsed, result


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the hand-made base file ----------------------------------------------------------------------


def test_base_file_is_valid(tmp_path: Path) -> None:
    path = _write(tmp_path / "base.gguf", hg.valid_gguf())
    info = inspect_gguf(path)
    assert info.version == 3
    assert info.tensor_count == 2
    assert info.kv_count == 19
    assert info.alignment == 32
    assert info.architecture == "llama"
    assert info.name == "hostile-base"
    assert (info.block_count, info.context_length, info.embedding_length) == (1, 256, 4)
    assert (info.head_count, info.head_count_kv) == (2, 1)
    assert info.vocab_size == 4
    assert info.parameter_count == 16 + 64
    assert info.tensor_types == {"F32": 1, "Q8_0": 1}
    assert info.file_type == "Q8_0"
    assert info.chat_template == hg.CHAT_TEMPLATE
    assert info.bos_token_id == 0 and info.eos_token_id == 1
    assert info.metadata["llama.some_bool"] is True
    assert info.metadata["llama.some_i64"] == -5
    assert info.metadata["llama.some_f64"] == 0.5
    # the gguf package agrees that the hand-written encoder produces a well-formed file
    reader = gguf.GGUFReader(path)
    assert [t.name for t in reader.tensors] == ["token_embd.weight", "blk.0.attn_q.weight"]
    assert sum(int(t.n_elements) for t in reader.tensors) == info.parameter_count


# --- hostile files --------------------------------------------------------------------------------


def test_there_are_enough_distinct_hostile_cases() -> None:
    cases = hg.hostile_cases()
    assert len(cases) >= 200
    assert len({c.data for c in cases}) == len(cases)
    assert len({c.label for c in cases}) == len(cases)
    assert hg.valid_gguf() not in {c.data for c in cases}


def test_every_hostile_file_is_rejected_quickly(tmp_path: Path) -> None:
    cases = hg.hostile_cases()
    path = tmp_path / "hostile.gguf"
    problems: list[str] = []
    times: list[float] = []
    for case in cases:
        _write(path, case.data)
        try:
            elapsed, result = _judge_timed(path)
        except Exception as exc:  # anything but our own error is a bug
            problems.append(f"{case.label}: escaped {type(exc).__name__}: {exc}")
            continue
        times.append(elapsed)
        if isinstance(result, GGUFInfo):
            problems.append(f"{case.label}: accepted")
            continue
        reason = result.reason
        if not reason.strip() or str(result) != reason:
            problems.append(f"{case.label}: empty or inconsistent reason {reason!r}")
        if case.expect is not None and case.expect.lower() not in reason.lower():
            problems.append(f"{case.label}: reason {reason!r} lacks {case.expect!r}")
        if elapsed >= LIMIT_S:
            problems.append(f"{case.label}: took {elapsed * 1000:.1f} ms")
    assert not problems, "\n".join(problems)
    print(
        f"\n{len(cases)} hostile files rejected; max {max(times) * 1000:.2f} ms, "
        f"median {statistics.median(times) * 1000:.3f} ms"
    )


def test_hostile_files_use_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "hostile.gguf"
    worst = (0, "")
    for case in hg.hostile_cases():
        _write(path, case.data)
        tracemalloc.start()
        try:
            with pytest.raises(GGUFPreflightError):
                inspect_gguf(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        worst = max(worst, (peak, case.label))
    # the largest hostile file is about 120 KB; claims of gigabytes must not be allocated
    assert worst[0] < 2 * 1024 * 1024, worst


def test_random_mutations_never_crash(tmp_path: Path) -> None:
    path = tmp_path / "mutant.gguf"
    problems: list[str] = []
    rejected = 0
    for case in hg.mutation_cases():
        _write(path, case.data)
        try:
            elapsed, result = _judge_timed(path)
        except Exception as exc:
            problems.append(f"{case.label}: escaped {type(exc).__name__}: {exc}")
            continue
        if isinstance(result, GGUFPreflightError):
            rejected += 1
            if not result.reason.strip():
                problems.append(f"{case.label}: empty reason")
        if elapsed >= LIMIT_S:
            problems.append(f"{case.label}: took {elapsed * 1000:.1f} ms")
    assert not problems, "\n".join(problems)
    assert rejected > 100  # most mutations of the header break it


@settings(max_examples=150, deadline=None, database=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=9)),
        min_size=1,
        max_size=4,
    ),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=2000)),
)
def test_hypothesis_mutations_never_crash(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, bytes]], cut: int | None
) -> None:
    data = bytearray(hg.valid_gguf())
    for pos, chunk in edits:
        pos %= len(data)
        data[pos : pos + len(chunk)] = chunk
    if cut is not None:
        del data[cut:]
    path = _write(tmp_path_factory.mktemp("hyp") / "m.gguf", bytes(data))
    elapsed, result = _judge_timed(path)  # must not raise anything else
    assert isinstance(result, GGUFInfo | GGUFPreflightError)
    assert elapsed < LIMIT_S


@settings(max_examples=150, deadline=None, database=None)
@given(body=st.binary(min_size=0, max_size=600))
def test_random_bytes_after_a_good_preamble(
    tmp_path_factory: pytest.TempPathFactory, body: bytes
) -> None:
    data = b"GGUF" + struct.pack("<I", 3) + body
    path = _write(tmp_path_factory.mktemp("hyp") / "r.gguf", data)
    elapsed, result = _judge_timed(path)
    assert isinstance(result, GGUFInfo | GGUFPreflightError)
    assert elapsed < LIMIT_S


# --- valid files written by gguf.GGUFWriter -------------------------------------------------------


def _write_with_gguf(
    path: Path,
    *,
    head_count: int | list[int] = 4,
    file_type: int | None = int(gguf.LlamaFileType.MOSTLY_Q8_0),
    alignment: int | None = None,
    template: str = CHATML,
) -> None:
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny-test")
    w.add_context_length(128)
    w.add_embedding_length(32)
    w.add_block_count(2)
    w.add_feed_forward_length(64)
    w.add_head_count(head_count)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    if file_type is not None:
        w.add_file_type(file_type)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"tok{i}" for i in range(10)])
    w.add_token_scores([0.0] * 10)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template(template)
    rng = np.random.default_rng(0)
    w.add_tensor("token_embd.weight", rng.standard_normal((10, 32), dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    q = gguf.quants.quantize(
        rng.standard_normal((64, 32), dtype=np.float32), gguf.GGMLQuantizationType.Q8_0
    )
    w.add_tensor("blk.0.attn_q.weight", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_file_written_by_gguf_writer(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    _write_with_gguf(path)
    info = inspect_gguf(path)
    assert info.path == str(path)
    assert info.file_size == path.stat().st_size
    assert info.version == 3
    assert info.tensor_count == 3
    assert info.alignment == 32
    assert info.architecture == "llama"
    assert info.name == "tiny-test"
    assert info.context_length == 128
    assert info.block_count == 2
    assert info.head_count == 4
    assert info.head_count_kv == 2
    assert info.embedding_length == 32
    assert info.vocab_size == 10
    assert info.parameter_count == 10 * 32 + 32 + 64 * 32
    assert info.tensor_types == {"F32": 2, "Q8_0": 1}
    assert info.file_type == "Q8_0"
    assert info.quantization == "Q8_0"
    assert info.chat_template == CHATML
    raw = CHATML.encode()
    assert info.chat_template_size == len(raw)
    assert info.chat_template_sha256 == hashlib.sha256(raw).hexdigest()
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.metadata["general.architecture"] == "llama"
    assert info.metadata["llama.block_count"] == 2
    assert info.metadata["tokenizer.ggml.tokens"] == "[array of 10 STRING]"
    assert info.metadata["tokenizer.ggml.scores"] == "[array of 10 FLOAT32]"
    eps = info.metadata["llama.attention.layer_norm_rms_epsilon"]
    assert isinstance(eps, float) and math.isclose(eps, 1e-5, rel_tol=1e-6)
    assert info.kv_count == len(info.metadata)


def test_quantization_falls_back_to_the_dominant_tensor_type(tmp_path: Path) -> None:
    path = tmp_path / "noftype.gguf"
    _write_with_gguf(path, file_type=None)
    info = inspect_gguf(path)
    assert info.file_type is None
    # F32: (320 + 32) * 4 = 1,408 bytes; Q8_0: 64 * 34 = 2,176 bytes
    assert info.quantization == "Q8_0"


def test_per_layer_head_count_and_custom_alignment(tmp_path: Path) -> None:
    path = tmp_path / "layers.gguf"
    _write_with_gguf(path, head_count=[4, 8], alignment=64)
    info = inspect_gguf(path)
    assert info.head_count == 8
    assert info.alignment == 64
    assert info.metadata["llama.attention.head_count"] == "[array of 2 INT32]"


def test_big_strings_and_a_big_vocabulary(tmp_path: Path) -> None:
    """A 2 MiB template (read past the 1 MiB window) and a 150,000-token vocabulary."""
    template = "{{ messages }}" + "x" * (2 * 1024 * 1024)
    tokens = [f"token-{i}".encode() for i in range(150_000)]
    spec = hg.base_spec()
    for kv in spec.kvs:
        if kv.key == b"tokenizer.chat_template":
            kv.payload = hg.v_str(template)
        elif kv.key == b"tokenizer.ggml.tokens":
            kv.payload = hg.v_str_arr(tokens)
        elif kv.key == b"general.name":
            kv.payload = hg.v_str("n" * 1000)
    path = _write(tmp_path / "big.gguf", hg.build(spec)[0])
    elapsed, result = min((_judge(path) for _ in range(3)), key=lambda r: r[0])
    assert isinstance(result, GGUFInfo), result
    assert result.vocab_size == 150_000
    assert result.chat_template == template
    assert result.chat_template_size == len(template)
    assert result.name == "n" * 1000
    shown = result.metadata["general.name"]
    assert isinstance(shown, str) and len(shown) <= 200 and shown.endswith("…")
    assert elapsed < LIMIT_S


def test_to_dict_is_json_and_leaves_out_the_template(tmp_path: Path) -> None:
    spec = hg.base_spec()
    spec.kvs.append(hg.KV(b"x.nan", hg.FLOAT32, struct.pack("<f", float("nan"))))
    spec.kvs.append(hg.KV(b"x.inf", hg.FLOAT64, struct.pack("<d", float("-inf"))))
    info = inspect_gguf(_write(tmp_path / "nan.gguf", hg.build(spec)[0]))
    d = info.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert "chat_template" not in d
    assert d["chat_template_sha256"] == info.chat_template_sha256
    assert d["chat_template_size"] == info.chat_template_size
    back = json.loads(text)
    assert back["metadata"]["x.nan"] == "nan"
    assert back["metadata"]["x.inf"] == "-inf"
    assert back["tensor_types"] == {"F32": 1, "Q8_0": 1}


def test_summary_lines_are_printable(tmp_path: Path) -> None:
    spec = hg.base_spec()
    for kv in spec.kvs:
        if kv.key == b"general.name":
            kv.payload = hg.v_str("evil\x1b[2J\x07name")
    info = inspect_gguf(_write(tmp_path / "esc.gguf", hg.build(spec)[0]))
    lines = info.summary_lines()
    assert lines and all(isinstance(line, str) and line for line in lines)
    assert all(ch.isprintable() for line in lines for ch in line)
    text = "\n".join(lines)
    assert "llama" in text and "Q8_0" in text and "evil?[2J?name" in text


def test_invalid_utf8_in_an_ordinary_string_is_replaced_not_rejected(tmp_path: Path) -> None:
    spec = hg.base_spec()
    for kv in spec.kvs:
        if kv.key == b"general.name":
            kv.payload = hg.v_str(b"caf\xe9")
    info = inspect_gguf(_write(tmp_path / "latin1.gguf", hg.build(spec)[0]))
    assert info.name == "caf\ufffd"


def test_vocab_only_file_without_tensors(tmp_path: Path) -> None:
    spec = hg.base_spec()
    spec.tensors = []
    spec.data = b""
    info = inspect_gguf(_write(tmp_path / "vocab.gguf", hg.build(spec)[0]))
    assert info.tensor_count == 0 and info.parameter_count == 0
    assert info.quantization == "Q8_0"  # from general.file_type
    assert info.vocab_size == 4


# --- the real starter model -----------------------------------------------------------------------


def test_starter_model(starter_model: Path) -> None:
    elapsed, result = min((_judge(starter_model) for _ in range(3)), key=lambda r: r[0])
    assert isinstance(result, GGUFInfo), result
    info = result
    assert info.architecture == "llama"
    assert info.block_count == 30
    assert info.head_count == 9
    assert info.head_count_kv == 3
    assert info.context_length == 8192
    assert info.embedding_length == 576
    assert info.vocab_size == 49152
    assert info.chat_template is not None and "<|im_start|>" in info.chat_template
    assert info.chat_template_size == len(info.chat_template.encode())
    assert info.parameter_count == 134_515_008
    assert info.quantization == "Q4_1"
    assert info.file_type == "Q4_1"
    assert info.tensor_types == {"F32": 61, "Q4_1": 210, "Q8_0": 1}
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.tensor_count == 272 and info.kv_count == 33
    json.dumps(info.to_dict(), allow_nan=False)
    assert elapsed < LIMIT_S, f"{elapsed * 1000:.1f} ms"
    print(f"\nstarter model inspected in {elapsed * 1000:.1f} ms")


# --- files that are not files ---------------------------------------------------------------------


def _reason(path: str | os.PathLike[str]) -> str:
    with pytest.raises(GGUFPreflightError) as info:
        inspect_gguf(path)
    assert info.value.reason
    return info.value.reason


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in _reason(tmp_path / "nope.gguf")


def test_directory(tmp_path: Path) -> None:
    assert "directory" in _reason(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in _reason(_write(tmp_path / "empty.gguf", b""))


def test_path_with_nul_byte(tmp_path: Path) -> None:
    assert _reason(str(tmp_path / "a\0b.gguf"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    start = time.perf_counter()
    assert "not a regular file" in _reason(fifo)
    assert time.perf_counter() - start < 1.0


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_character_device() -> None:
    assert "not a regular file" in _reason("/dev/zero")


@pytest.mark.skipif(
    sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
    reason="permissions are not enforced here",
)
def test_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "secret.gguf", hg.valid_gguf())
    path.chmod(0)
    try:
        assert "permission" in _reason(path)
    finally:
        path.chmod(0o600)


# --- the module itself ----------------------------------------------------------------------------


def test_error_is_a_value_error_whose_text_is_the_reason() -> None:
    err = GGUFPreflightError("not a GGUF file (bad magic)")
    assert isinstance(err, ValueError)
    assert err.reason == str(err) == "not a GGUF file (bad magic)"


def test_type_table_matches_the_gguf_package() -> None:
    for type_id, (name, block, size) in GGML_TYPES.items():
        qtype = gguf.GGMLQuantizationType(type_id)
        assert qtype.name == name
        assert gguf.GGML_QUANT_SIZES[qtype] == (block, size)
    for ftype_id, name in LLAMA_FTYPES.items():
        try:
            member = gguf.LlamaFileType(ftype_id)
        except ValueError:
            continue  # newer than the gguf package
        assert member.name.removeprefix("MOSTLY_").removeprefix("ALL_") == name


def test_module_imports_only_the_standard_library() -> None:
    source = Path(gguf_preflight.__file__).read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


# --- layer sizes, attention shape, split files ----------------------------------------------------


def test_starter_model_layer_bytes_and_output(starter_model: Path) -> None:
    info = inspect_gguf(starter_model)
    reader = gguf.GGUFReader(starter_model)
    sizes = {t.name: int(t.n_bytes) for t in reader.tensors}
    assert info.block_bytes == sum(n for name, n in sizes.items() if name.startswith("blk."))
    assert info.other_bytes == sizes["token_embd.weight"] + sizes["output_norm.weight"]
    assert info.block_bytes + info.other_bytes == sum(sizes.values()) == 96_576_768
    # SmolLM2 ties its output layer to the embeddings: llama.cpp loads a copy of token_embd.
    assert info.output_tied is True
    assert info.output_bytes == sizes["token_embd.weight"] + sizes["output_norm.weight"]
    assert (info.key_length, info.value_length, info.sliding_window) == (None, None, None)
    assert info.split_count is None
    d = info.to_dict()
    assert (d["block_bytes"], d["other_bytes"]) == (info.block_bytes, info.other_bytes)
    assert d["output_tied"] is True and d["split_count"] is None


def test_attention_lengths_sliding_window_split_count_and_separate_output(tmp_path: Path) -> None:
    path = tmp_path / "shaped.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_embedding_length(32)
    w.add_head_count(4)
    w.add_key_length(16)
    w.add_value_length(8)
    w.add_sliding_window(4096)
    w.add_uint16("split.count", 3)
    rng = np.random.default_rng(0)
    w.add_tensor("token_embd.weight", rng.standard_normal((10, 32), dtype=np.float32))
    w.add_tensor("output.weight", rng.standard_normal((10, 32), dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(32, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    info = inspect_gguf(path)
    assert (info.key_length, info.value_length, info.sliding_window) == (16, 8, 4096)
    assert info.split_count == 3
    assert info.block_bytes == 32 * 4
    assert info.other_bytes == (10 * 32 * 2 + 32) * 4
    assert info.output_tied is False
    assert info.output_bytes == (10 * 32 + 32) * 4  # output.weight and output_norm only
    json.dumps(info.to_dict(), allow_nan=False)


# --- a prefix of the file (the first bytes fetched from the Hub) ----------------------------------


def test_prefix_of_the_starter_model_describes_the_whole_file(
    starter_model: Path, tmp_path: Path
) -> None:
    full = inspect_gguf(starter_model)
    size = starter_model.stat().st_size
    prefix = tmp_path / "prefix.gguf"
    with starter_model.open("rb") as f:
        prefix.write_bytes(f.read(2 * 1024 * 1024))
    info = inspect_gguf(prefix, declared_size=size)
    assert info.file_size == size
    assert {**info.to_dict(), "path": ""} == {**full.to_dict(), "path": ""}
    assert info.chat_template == full.chat_template


def test_a_prefix_too_short_for_the_header_asks_for_more(
    starter_model: Path, tmp_path: Path
) -> None:
    size = starter_model.stat().st_size
    prefix = tmp_path / "prefix.gguf"
    with starter_model.open("rb") as f:
        prefix.write_bytes(f.read(256 * 1024))  # the header is about 1.8 MB
    with pytest.raises(GGUFPreflightError) as err:
        inspect_gguf(prefix, declared_size=size)
    assert err.value.needs_more is True
    assert "262,144 bytes" in str(err.value)
    # Without a declared size the same bytes are simply a truncated file.
    with pytest.raises(GGUFPreflightError) as err:
        inspect_gguf(prefix)
    assert err.value.needs_more is False
    assert "truncated" in err.value.reason


def test_every_cut_of_a_valid_file_is_either_enough_or_asks_for_more(tmp_path: Path) -> None:
    data = hg.valid_gguf()
    full = inspect_gguf(_write(tmp_path / "full.gguf", data))
    path = tmp_path / "prefix.gguf"
    enough = 0
    for cut in range(1, len(data) + 1):
        _write(path, data[:cut])
        try:
            info = inspect_gguf(path, declared_size=len(data))
        except GGUFPreflightError as exc:
            assert exc.needs_more, f"cut at {cut}: {exc.reason}"
            continue
        enough += 1
        assert {**info.to_dict(), "path": ""} == {**full.to_dict(), "path": ""}, cut
    assert 0 < enough < len(data)  # cuts inside the tensor data, and none inside the header


def test_a_declared_size_is_still_checked_against_the_tensors(
    starter_model: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "prefix.gguf"
    with starter_model.open("rb") as f:
        prefix.write_bytes(f.read(2 * 1024 * 1024))
    with pytest.raises(GGUFPreflightError) as err:
        inspect_gguf(prefix, declared_size=3 * 1024 * 1024)  # tensors need about 92 MB
    assert err.value.needs_more is False
    assert "extends past the end of the data section" in err.value.reason


def test_a_declared_size_smaller_than_the_file_is_an_error(tmp_path: Path) -> None:
    data = hg.valid_gguf()
    path = _write(tmp_path / "base.gguf", data)
    with pytest.raises(GGUFPreflightError) as err:
        inspect_gguf(path, declared_size=len(data) - 1)
    assert err.value.needs_more is False
    assert f"{len(data):,} bytes long" in err.value.reason
    assert inspect_gguf(path, declared_size=len(data)).file_size == len(data)


def test_hostile_files_judged_the_same_with_their_own_size_declared(tmp_path: Path) -> None:
    path = tmp_path / "hostile.gguf"
    for case in hg.hostile_cases():
        _write(path, case.data)
        with pytest.raises(GGUFPreflightError) as plain:
            inspect_gguf(path)
        with pytest.raises(GGUFPreflightError) as declared:
            inspect_gguf(path, declared_size=len(case.data))
        assert declared.value.reason == plain.value.reason, case.label
        assert not declared.value.needs_more, case.label


def test_hostile_prefix_of_a_huge_declared_file_reads_only_what_is_there(tmp_path: Path) -> None:
    # A header claiming 16M vocabulary strings passes the bounds check against a declared
    # 1 TB file; the walk must stop at the end of the prefix without allocating for the claim.
    body = hg.u32(3) + hg.u64(0) + hg.u64(1)
    body += hg.gstr(b"tokenizer.ggml.tokens") + hg.u32(9) + hg.u32(8) + hg.u64(16_000_000)
    body += hg.u64(3) + b"abc"
    path = _write(tmp_path / "prefix.gguf", b"GGUF" + body)
    tracemalloc.start()
    try:
        with pytest.raises(GGUFPreflightError) as err:
            inspect_gguf(path, declared_size=10**12)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.needs_more is True
    assert peak < 2 * 1024 * 1024
