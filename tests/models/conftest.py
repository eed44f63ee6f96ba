"""Fixtures for the model-download tests: a Hub-compatible server and a small valid GGUF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from tests.hubserver import HubServer


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    """A started Hub-compatible server on 127.0.0.1 (no repos yet); stopped afterwards.

    Fails the test if a request handler raised (a bug in the server, not a client's fault).
    """
    server = HubServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, "the Hub test server failed:\n" + "\n".join(server.errors)


def write_small_gguf(path: Path, *, vocab: int = 256, dim: int = 256) -> Path:
    """Write a small well-formed llama-architecture GGUF (about vocab*dim*4 bytes of F32)."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny-test-llama")
    writer.add_context_length(256)
    writer.add_embedding_length(dim)
    writer.add_block_count(1)
    writer.add_feed_forward_length(dim * 2)
    writer.add_head_count(4)
    writer.add_head_count_kv(4)
    writer.add_rope_dimension_count(dim // 4)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(0)  # ALL_F32
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"<t{i}>".encode() for i in range(vocab)])
    writer.add_token_scores([0.0] * vocab)
    writer.add_token_types([1] * vocab)
    rng = np.random.default_rng(1234)
    writer.add_tensor("token_embd.weight", rng.standard_normal((vocab, dim), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="session")
def small_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small (~270 KB) valid llama-architecture GGUF file, written once per session."""
    return write_small_gguf(tmp_path_factory.mktemp("small_gguf") / "tiny-llama-F32.gguf")
