"""Does the installed llama.cpp support a file?  Checked in a child process that may die.

Real files: the starter model, the same model rewritten with an architecture llama.cpp does not
know, the same model with block_count = 100000 (llama.cpp aborts on it), a small hand-made GGUF
llama.cpp refuses, and a file that is not a GGUF at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

from chatapp.engine import support_check
from chatapp.engine.support_check import SupportResult, check_support, engine_version
from tests.engine.hostile_gguf import valid_gguf
from tests.gguf_tools import rewrite_gguf


def with_architecture(src: Path, dst: Path, arch: str) -> Path:
    """Copy `src` to `dst` under another general.architecture, its arch-prefixed keys
    ("llama.block_count" ...) renamed to match (tensors unchanged)."""
    reader = gguf.GGUFReader(src)
    old = str(bytes(reader.fields["general.architecture"].parts[-1]), "utf-8")
    writer = gguf.GGUFWriter(dst, arch)
    for field in reader.fields.values():
        name = field.name
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        if name.startswith(old + "."):
            name = arch + name[len(old):]
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == gguf.GGUFValueType.STRING:
                writer.add_array(name, [bytes(field.parts[i]) for i in field.data])
            else:
                writer.add_key_value(name, [field.parts[i].tolist()[0] for i in field.data],
                                     vtype, sub_type=sub)
        elif vtype == gguf.GGUFValueType.STRING:
            writer.add_key_value(name, bytes(field.parts[-1]).decode("utf-8"), vtype)
        else:
            writer.add_key_value(name, field.parts[-1].tolist()[0], vtype)
    for t in reader.tensors:
        writer.add_tensor(t.name, np.asarray(t.data), raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


@pytest.fixture(scope="module")
def files(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of each kind."""
    folder = tmp_path_factory.mktemp("support")
    not_gguf = folder / "README.gguf"
    not_gguf.write_text("This is not a model, it is a README.\n")
    refused = folder / "tiny.gguf"  # well-formed; its gpt2 tokenizer has no merges
    refused.write_bytes(valid_gguf())
    return {
        "ok": starter_model,
        "arch": with_architecture(starter_model, folder / "notarealarch.gguf", "notarealarch"),
        "abort": rewrite_gguf(starter_model, folder / "block_count_100000.gguf",
                              {"llama.block_count": 100000}),
        "not_gguf": not_gguf,
        "refused": refused,
    }


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """The batches handed to each checker process started (the real ones)."""
    started: list[list[Path]] = []
    real = support_check._start_child

    def counting(paths: Any) -> Any:
        started.append(list(paths))
        return real(paths)

    monkeypatch.setattr(support_check, "_start_child", counting)
    return started


def test_the_starter_model_is_supported(files: dict[str, Path]) -> None:
    assert check_support([files["ok"]]) == {files["ok"]: SupportResult("ok", "", "llama")}


def test_an_unknown_architecture_is_named(files: dict[str, Path]) -> None:
    from chatapp.engine.gguf_preflight import inspect_gguf

    info = inspect_gguf(files["arch"])  # the rewrite moved the hyper-parameters with it
    assert info.architecture == "notarealarch" and info.block_count == 30
    result = check_support([files["arch"]])[files["arch"]]
    assert result == SupportResult(
        "unsupported_architecture",
        f"This llama.cpp (llama-cpp-python {engine_version()}) does not know the architecture "
        "'notarealarch'; a newer chatapp may.",
        "notarealarch",
    )


def test_a_file_that_aborts_llama_cpp_is_crashed_and_the_batch_goes_on(
    files: dict[str, Path], children: list[list[Path]]
) -> None:
    batch = [files["ok"], files["abort"], files["arch"], files["not_gguf"], files["refused"]]
    results = check_support(batch)
    assert list(results) == batch
    crashed = results[files["abort"]]
    assert crashed.status == "crashed" and crashed.architecture == "llama"
    assert crashed.message.startswith("llama.cpp crashed reading this file (signal 6, SIGABRT: "
                                      "GGML_ASSERT(")
    assert crashed.message.endswith("; it cannot be loaded with this version.")
    assert results[files["ok"]].status == "ok"
    assert results[files["arch"]].status == "unsupported_architecture"
    assert results[files["not_gguf"]].status == "preflight"
    assert results[files["refused"]].status == "load_error"
    # a second child took over after the crash, with only the files after it
    assert children == [batch, batch[2:]]


def test_a_file_that_is_not_a_model_fails_the_preflight(files: dict[str, Path],
                                                        tmp_path: Path) -> None:
    missing = tmp_path / "gone.gguf"
    results = check_support([files["not_gguf"], missing])
    assert results[files["not_gguf"]] == SupportResult(
        "preflight", "This is not a usable model file: not a GGUF file (bad magic).", None)
    assert results[missing] == SupportResult(
        "preflight", "The file cannot be read (No such file or directory).", None)


def test_a_file_llama_cpp_refuses_says_why(files: dict[str, Path]) -> None:
    result = check_support([files["refused"]])[files["refused"]]
    assert result == SupportResult(
        "load_error",
        "llama.cpp cannot load this file: error loading model vocabulary: cannot find tokenizer "
        "merges in model file.",
        "llama",
    )


def test_results_are_cached_until_the_file_changes(
    files: dict[str, Path], children: list[list[Path]], tmp_path: Path
) -> None:
    cache = tmp_path / "cache" / "support.json"
    batch = [files["ok"], files["abort"], files["not_gguf"]]
    first = check_support(batch, cache_file=cache)
    assert len(children) == 2  # the abort cost one child
    written = cache.stat().st_mtime_ns
    data = json.loads(cache.read_text("utf-8"))
    real = os.path.realpath(files["ok"])
    assert any(key.startswith(real + "|") and key.endswith("|" + engine_version())
               for key in data["entries"])

    again = check_support(batch, cache_file=cache)
    assert again == first
    assert len(children) == 2  # no child at all: every answer came from the cache
    assert cache.stat().st_mtime_ns == written  # and nothing new to write

    st = files["not_gguf"].stat()
    os.utime(files["not_gguf"], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    check_support(batch, cache_file=cache)
    assert children[2:] == [[files["not_gguf"]]]  # only the changed file is read again


def test_a_checker_that_cannot_answer_in_time_is_not_cached(
    files: dict[str, Path], tmp_path: Path
) -> None:
    cache = tmp_path / "support.json"
    # Far too short for a Python process to start and import llama.cpp.
    results = check_support([files["ok"], files["not_gguf"]], cache_file=cache, timeout=0.001)
    assert {r.status for r in results.values()} == {"crashed"}
    assert all(r.message == "The support check could not start (it was not ready within "
               "0.001 s)." for r in results.values())
    assert not cache.exists()
    assert check_support([files["ok"]], cache_file=cache)[files["ok"]].status == "ok"
