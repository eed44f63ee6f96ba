"""Hub search and listing through the real huggingface_hub client, against a loopback Hub.

Also proves the test server's fault machinery (other tests rely on it) with plain httpx2.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from chatapp.models import hub
from chatapp.models.hub import (
    HubError,
    file_url,
    list_gguf_files,
    missing_parts,
    quantization_from_name,
    search_models,
    to_hub_error,
)
from chatapp.models.hub_types import HubFilePart, HubModelFile
from tests.hubserver import Fault, HubServer
from tests.net import free_port

BODY = bytes(range(256)) * 40  # 10,240 bytes, every offset distinguishable


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def client() -> httpx2.Client:
    """A plain HTTP client (no huggingface_hub), short timeouts."""
    return httpx2.Client(timeout=10)


@pytest.fixture
def blob_url(hub_server: HubServer) -> str:
    """The resolve URL of BODY in repo "t/blob"."""
    hub_server.add_repo("t/blob", {"f.bin": BODY})
    return f"{hub_server.endpoint}/t/blob/resolve/main/f.bin"


@pytest.fixture
def catalog(hub_server: HubServer) -> HubServer:
    """Four GGUF repositories with distinct orders by downloads, likes and date, and one
    non-GGUF repository that matches every search but must never be listed."""
    s = hub_server
    s.add_repo("alice/Llama-3-8B-GGUF", {"m-Q4_K_M.gguf": b"a"}, downloads=500, likes=5,
               last_modified="2026-01-03T00:00:00.000Z")
    s.add_repo("bob/llama-tiny-gguf", {"m-Q8_0.gguf": b"b"}, downloads=900, likes=1,
               last_modified="2026-01-01T00:00:00.000Z", gated=True)
    s.add_repo("carol/TinyLlama-GGUF", {"m-F16.gguf": b"c"}, downloads=10, likes=50,
               last_modified="2026-01-02T00:00:00.000Z")
    s.add_repo("dave/qwen-gguf", {"q-Q4_0.gguf": b"d"}, downloads=100, likes=9,
               last_modified="2026-01-04T00:00:00.000Z")
    s.add_repo("erin/llama-safetensors", {"model.safetensors": b"e"}, downloads=10_000,
               likes=999, last_modified="2026-02-01T00:00:00.000Z",
               tags=("safetensors", "llama"))
    return s


def _closed_port_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


# -- the test server itself ---------------------------------------------------------------

def test_server_head_has_what_the_client_reads(blob_url: str, client: httpx2.Client,
                                               hub_server: HubServer) -> None:
    r = client.head(blob_url)
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(BODY))
    assert r.headers["x-linked-size"] == str(len(BODY))
    assert r.headers["x-linked-etag"] == f'"{_sha(BODY)}"'
    assert len(r.headers["x-repo-commit"]) == 40
    meta = get_hf_file_metadata(blob_url, token=False)
    assert (meta.size, meta.etag, meta.commit_hash) == (
        len(BODY), _sha(BODY), r.headers["x-repo-commit"])
    assert hub_server.bytes_served("t/blob", "f.bin") == 0


def test_server_ranges(blob_url: str, client: httpx2.Client, hub_server: HubServer) -> None:
    full = client.get(blob_url)
    assert (full.status_code, full.content) == (200, BODY)
    part = client.get(blob_url, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-{len(BODY) - 1}/{len(BODY)}"
    assert part.content == BODY[1000:]
    closed = client.get(blob_url, headers={"Range": "bytes=10-19"})
    assert (closed.status_code, closed.content) == (206, BODY[10:20])
    suffix = client.get(blob_url, headers={"Range": "bytes=-5"})
    assert (suffix.status_code, suffix.content) == (206, BODY[-5:])
    beyond = client.get(blob_url, headers={"Range": f"bytes={len(BODY)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(BODY)}"
    assert hub_server.bytes_served("t/blob", "f.bin") == 2 * len(BODY) - 1000 + 10 + 5
    assert [r.range for r in hub_server.requests][-2:] == ["bytes=-5", f"bytes={len(BODY)}-"]


def test_server_ignore_range(blob_url: str, client: httpx2.Client,
                             hub_server: HubServer) -> None:
    hub_server.set_fault("t/blob", "f.bin", Fault(ignore_range=True))
    r = client.get(blob_url, headers={"Range": "bytes=1000-"})
    assert (r.status_code, r.content) == (200, BODY)
    assert "content-range" not in r.headers


def test_server_drop_at_is_used_once(blob_url: str, client: httpx2.Client,
                                     hub_server: HubServer) -> None:
    fault = Fault(drop_at=[7000, 3000])
    hub_server.set_fault("t/blob", "f.bin", fault)
    received = bytearray()
    with pytest.raises(httpx2.RemoteProtocolError), client.stream("GET", blob_url) as r:
        for chunk in r.iter_bytes():
            received += chunk
    assert bytes(received) == BODY[:3000]
    assert fault.drop_at == [7000]
    # A resumed request that does not reach 7000 is complete; one that does is cut there.
    ok = client.get(blob_url, headers={"Range": "bytes=3000-6999"})
    assert ok.content == BODY[3000:7000]
    received.clear()
    with pytest.raises(httpx2.RemoteProtocolError), \
            client.stream("GET", blob_url, headers={"Range": "bytes=3000-"}) as r:
        for chunk in r.iter_bytes():
            received += chunk
    assert bytes(received) == BODY[3000:7000]
    assert fault.drop_at == []
    assert client.get(blob_url).content == BODY
    assert hub_server.bytes_served("t/blob", "f.bin") == 3000 + 4000 + 4000 + len(BODY)


def test_server_flip_byte_every_time(blob_url: str, client: httpx2.Client,
                                     hub_server: HubServer) -> None:
    hub_server.set_fault("t/blob", "f.bin", Fault(flip_byte_at=4321))
    for _ in range(2):
        got = client.get(blob_url).content
        assert len(got) == len(BODY)
        diff = [i for i in range(len(BODY)) if got[i] != BODY[i]]
        assert diff == [4321]
        assert got[4321] == BODY[4321] ^ 0xFF
    tail = client.get(blob_url, headers={"Range": "bytes=4000-"}).content
    assert tail[321] == BODY[4321] ^ 0xFF and tail[:321] == BODY[4000:4321]
    # Metadata keeps the true hash: a client that checks it can tell.
    assert client.head(blob_url).headers["x-linked-etag"] == f'"{_sha(BODY)}"'


@pytest.mark.parametrize("served", [1000, len(BODY) + 500])
def test_server_serve_size(blob_url: str, client: httpx2.Client, hub_server: HubServer,
                           served: int) -> None:
    hub_server.set_fault("t/blob", "f.bin", Fault(serve_size=served))
    head = client.head(blob_url)
    assert head.headers["x-linked-size"] == str(len(BODY))
    assert head.headers["content-length"] == str(served)
    got = client.get(blob_url)
    assert got.headers["content-length"] == str(served)
    expected = BODY[:served] + bytes(max(0, served - len(BODY)))
    assert got.content == expected


def test_server_stall_once_then_continue(blob_url: str, hub_server: HubServer) -> None:
    fault = Fault(stall_at=5000, stall_s=1.0)
    hub_server.set_fault("t/blob", "f.bin", fault)
    received = bytearray()
    # Read timeout far below the stall: the stall is really there.
    with pytest.raises(httpx2.ReadTimeout), httpx2.Client(timeout=0.2) as quick, \
            quick.stream("GET", blob_url) as r:
        for chunk in r.iter_bytes():
            received += chunk
    assert bytes(received) == BODY[:5000]
    assert fault.stall_at is None  # used
    with httpx2.Client(timeout=10) as patient:
        assert patient.get(blob_url).content == BODY


def test_server_stall_completes_for_a_patient_client(blob_url: str,
                                                     hub_server: HubServer) -> None:
    hub_server.set_fault("t/blob", "f.bin", Fault(stall_at=100, stall_s=0.3))
    with httpx2.Client(timeout=30) as patient:
        assert patient.get(blob_url).content == BODY


def test_server_stop_wakes_a_stalled_response(blob_url: str, hub_server: HubServer) -> None:
    hub_server.set_fault("t/blob", "f.bin", Fault(stall_at=100, stall_s=600))
    outcome: list[object] = []

    def fetch() -> None:
        try:
            with httpx2.Client(timeout=300) as c:
                outcome.append(c.get(blob_url))
        except httpx2.HTTPError as exc:
            outcome.append(exc)

    t = threading.Thread(target=fetch, daemon=True)
    t.start()
    while hub_server.bytes_served("t/blob", "f.bin") < 100 and t.is_alive():
        t.join(0.05)
    hub_server.stop()
    t.join(60)  # generous: only "not 600 s" matters
    assert not t.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx2.RemoteProtocolError)


def test_server_status_fault(blob_url: str, client: httpx2.Client,
                             hub_server: HubServer) -> None:
    hub_server.set_fault("t/blob", "f.bin", Fault(status=503))
    assert client.head(blob_url).status_code == 503
    assert client.get(blob_url).status_code == 503
    hub_server.set_fault("t/blob", "f.bin", None)
    assert client.get(blob_url).content == BODY


def test_server_streams_a_file_from_disk(hub_server: HubServer, small_gguf: Path,
                                         client: httpx2.Client) -> None:
    data = small_gguf.read_bytes()
    hub_server.add_repo("t/disk", {"tiny.gguf": small_gguf})
    url = f"{hub_server.endpoint}/t/disk/resolve/main/tiny.gguf"
    assert client.head(url).headers["x-linked-etag"] == f'"{_sha(data)}"'
    assert client.get(url).content == data
    assert client.get(url, headers={"Range": "bytes=200000-"}).content == data[200000:]


def test_server_serves_the_starter_model_from_disk(hub_server: HubServer, starter_model: Path,
                                                  client: httpx2.Client) -> None:
    from chatapp.models.starter import STARTER

    hub_server.add_repo("t/starter", {STARTER.file_name: starter_model})
    (f,) = list_gguf_files("t/starter", endpoint=hub_server.endpoint)
    assert f.parts[0].sha256 == STARTER.sha256 and f.size == STARTER.size
    assert f.quantization == "Q4_1"
    url = file_url(f, f.parts[0], endpoint=hub_server.endpoint)
    tail = client.get(url, headers={"Range": f"bytes={STARTER.size - 4096}-"})
    with starter_model.open("rb") as disk:
        disk.seek(STARTER.size - 4096)
        assert tail.content == disk.read()
    assert tail.headers["content-range"] == (
        f"bytes {STARTER.size - 4096}-{STARTER.size - 1}/{STARTER.size}")


def test_server_works_with_hf_hub_download(hub_server: HubServer, tmp_path: Path) -> None:
    sha = hub_server.add_repo("t/dl", {"dir/m.gguf": BODY})
    got = hf_hub_download("t/dl", "dir/m.gguf", revision=sha, endpoint=hub_server.endpoint,
                          local_dir=tmp_path, token=False)
    assert Path(got).read_bytes() == BODY
    methods = [(r.method, r.status) for r in hub_server.requests]
    assert ("HEAD", 200) in methods and ("GET", 200) in methods


def test_server_gated_files_need_a_token(hub_server: HubServer) -> None:
    hub_server.add_repo("t/gated", {"m.gguf": BODY}, gated=True)
    url = hf_hub_url("t/gated", "m.gguf", endpoint=hub_server.endpoint)
    with pytest.raises(GatedRepoError):
        get_hf_file_metadata(url, token=False)
    assert get_hf_file_metadata(url, token="hf_test").size == len(BODY)
    # The metadata stays public, as on the Hub.
    info = HfApi(endpoint=hub_server.endpoint).model_info("t/gated", token=False)
    assert info.gated == "manual"


def test_server_api_through_the_client(catalog: HubServer) -> None:
    api = HfApi(endpoint=catalog.endpoint)
    catalog.page_size = 2  # force Link-header pagination
    everything = [m.id for m in api.list_models(token=False)]
    assert sorted(everything) == sorted(
        ["alice/Llama-3-8B-GGUF", "bob/llama-tiny-gguf", "carol/TinyLlama-GGUF",
         "dave/qwen-gguf", "erin/llama-safetensors"])
    assert sum("cursor=" in r.path for r in catalog.requests) == 2
    by_date = api.list_models(filter="gguf", sort="last_modified", limit=3, token=False,
                              expand=["lastModified"])
    assert [m.id for m in by_date] == ["dave/qwen-gguf", "alice/Llama-3-8B-GGUF",
                                       "carol/TinyLlama-GGUF"]
    assert "sort=lastModified" in catalog.requests[-1].path
    sha = catalog.add_repo("t/tree", {"a/b/c.gguf": b"1", "top.gguf": b"22"})
    tree = list(api.list_repo_tree("t/tree", recursive=True, expand=True, token=False))
    files = {e.path: e for e in tree if hasattr(e, "lfs")}
    assert set(files) == {"a/b/c.gguf", "top.gguf"}
    assert files["top.gguf"].lfs is not None and files["top.gguf"].lfs.sha256 == _sha(b"22")
    assert {e.path for e in tree} - set(files) == {"a", "a/b"}
    assert api.model_info("t/tree", revision=sha, token=False).sha == sha
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/nothing", token=False)


# -- search -------------------------------------------------------------------------------

def test_search_by_substring_lists_only_gguf(catalog: HubServer) -> None:
    found = search_models("LLAMA", endpoint=catalog.endpoint, token=None)
    ids = [r.repo_id for r in found]
    assert set(ids) == {"alice/Llama-3-8B-GGUF", "bob/llama-tiny-gguf", "carol/TinyLlama-GGUF"}
    assert "erin/llama-safetensors" not in ids  # matches the text, but has no gguf tag
    request = catalog.requests[-1].path
    assert "filter=gguf" in request and "search=LLAMA" in request


@pytest.mark.parametrize(("sort", "expected"), [
    ("downloads", ["bob/llama-tiny-gguf", "alice/Llama-3-8B-GGUF", "dave/qwen-gguf",
                   "carol/TinyLlama-GGUF"]),
    ("likes", ["carol/TinyLlama-GGUF", "dave/qwen-gguf", "alice/Llama-3-8B-GGUF",
               "bob/llama-tiny-gguf"]),
    ("recent", ["dave/qwen-gguf", "alice/Llama-3-8B-GGUF", "carol/TinyLlama-GGUF",
                "bob/llama-tiny-gguf"]),
])
def test_search_sort_orders(catalog: HubServer, sort: str, expected: list[str]) -> None:
    found = search_models("", sort=sort, endpoint=catalog.endpoint)
    assert [r.repo_id for r in found] == expected


def test_search_values_and_limit(catalog: HubServer) -> None:
    found = search_models("gguf", sort="downloads", limit=2, endpoint=catalog.endpoint)
    assert [r.repo_id for r in found] == ["bob/llama-tiny-gguf", "alice/Llama-3-8B-GGUF"]
    bob = found[0]
    assert (bob.downloads, bob.likes, bob.gated) == (900, 1, True)
    assert bob.last_modified is not None and bob.last_modified.startswith("2026-01-01T00:00")
    assert found[1].gated is False
    assert "limit=2" in catalog.requests[-1].path
    assert search_models("no-such-model", endpoint=catalog.endpoint) == []


def test_search_default_endpoint_is_the_clients(catalog: HubServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ENDPOINT", catalog.endpoint)
    assert [r.repo_id for r in search_models("qwen")] == ["dave/qwen-gguf"]
    assert [f.name for f in list_gguf_files("dave/qwen-gguf")] == ["q-Q4_0.gguf"]


def test_search_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sort"):
        search_models("x", sort="trending")
    with pytest.raises(ValueError, match="limit"):
        search_models("x", limit=0)


# -- listing ------------------------------------------------------------------------------

def test_list_files_sizes_hashes_and_revision(hub_server: HubServer) -> None:
    small, big = b"s" * 100, b"B" * 3000
    sha = hub_server.add_repo("org/m", {
        "README.md": b"readme", "config.json": b"{}",
        "Q8/model-Q8_0.gguf": big, "model-Q4_K_M.gguf": small,
        "mmproj-model-f16.gguf": b"m" * 50, "MMPROJ-x.gguf": b"m",
        "model.imatrix": b"i",
    })
    files = list_gguf_files("org/m", endpoint=hub_server.endpoint)
    assert [f.name for f in files] == ["model-Q4_K_M.gguf", "model-Q8_0.gguf"]
    q4, q8 = files
    assert q4 == HubModelFile(repo_id="org/m", revision=sha, name="model-Q4_K_M.gguf",
                              quantization="Q4_K_M",
                              parts=(HubFilePart("model-Q4_K_M.gguf", 100, _sha(small)),))
    assert q8.parts == (HubFilePart("Q8/model-Q8_0.gguf", 3000, _sha(big)),)
    assert (q8.quantization, q8.size, q8.is_split, missing_parts(q8)) == ("Q8_0", 3000,
                                                                          False, 0)
    assert "blobs=true" in hub_server.requests[-1].path


def test_listing_is_pinned_to_a_commit(hub_server: HubServer, client: httpx2.Client) -> None:
    old = hub_server.add_repo("org/m", {"m-Q4_0.gguf": b"old"})
    new = hub_server.add_repo("org/m", {"m-Q4_0.gguf": b"new content"})
    assert old != new
    (latest,) = list_gguf_files("org/m", endpoint=hub_server.endpoint)
    assert latest.revision == new and latest.size == len(b"new content")
    (pinned,) = list_gguf_files("org/m", revision=old, endpoint=hub_server.endpoint)
    assert pinned.revision == old and pinned.parts[0].sha256 == _sha(b"old")
    url = file_url(pinned, pinned.parts[0], endpoint=hub_server.endpoint)
    assert url == f"{hub_server.endpoint}/org/m/resolve/{old}/m-Q4_0.gguf"
    assert client.get(url).content == b"old"
    meta = get_hf_file_metadata(url, token=False)
    assert (meta.etag, meta.size, meta.commit_hash) == (_sha(b"old"), 3, old)


def test_file_url_rejects_a_foreign_part(hub_server: HubServer) -> None:
    hub_server.add_repo("org/m", {"a-Q4_0.gguf": b"a"})
    (f,) = list_gguf_files("org/m", endpoint=hub_server.endpoint)
    with pytest.raises(ValueError):
        file_url(f, HubFilePart("other.gguf", 1, None))


def test_split_files_are_grouped_in_order(hub_server: HubServer) -> None:
    parts = {f"Q4_K_M/big-Q4_K_M-{i:05d}-of-00003.gguf": bytes([i]) * (1000 + i)
             for i in (3, 1, 2)}
    hub_server.add_repo("org/split", {
        **parts,
        "Q8_0/big-Q8_0-00002-of-00002.gguf": b"x" * 10,  # part 1 is missing
        "small-Q2_K.gguf": b"y" * 5,
    })
    files = list_gguf_files("org/split", endpoint=hub_server.endpoint)
    assert [f.name for f in files] == ["small-Q2_K.gguf", "big-Q8_0.gguf", "big-Q4_K_M.gguf"]
    small, q8, q4 = files
    assert q4.is_split and q4.quantization == "Q4_K_M"
    assert [p.path for p in q4.parts] == [f"Q4_K_M/big-Q4_K_M-{i:05d}-of-00003.gguf"
                                          for i in (1, 2, 3)]
    assert q4.size == 1001 + 1002 + 1003
    assert q4.first_file_name == "big-Q4_K_M-00001-of-00003.gguf"
    assert missing_parts(q4) == 0
    assert q8.quantization == "Q8_0" and missing_parts(q8) == 1
    assert missing_parts(small) == 0
    # The round trip a download's resume record makes keeps all of it.
    assert HubModelFile.from_dict(q4.to_dict()) == q4


def test_same_stem_in_two_folders_are_two_models(hub_server: HubServer) -> None:
    hub_server.add_repo("org/two", {"a/m-00001-of-00002.gguf": b"1",
                                    "a/m-00002-of-00002.gguf": b"2",
                                    "b/m-00001-of-00002.gguf": b"33"})
    files = list_gguf_files("org/two", endpoint=hub_server.endpoint)
    assert sorted((len(f.parts), missing_parts(f)) for f in files) == [(1, 1), (2, 0)]


# -- quantization names -------------------------------------------------------------------

@pytest.mark.parametrize(("name", "quant"), [
    ("Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
    ("model.q4_k_m.gguf", "Q4_K_M"),
    ("model-Q4_0.gguf", "Q4_0"),
    ("model-Q4_1.gguf", "Q4_1"),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
    ("model_Q5_K_S.gguf", "Q5_K_S"),
    ("model-Q8_0.gguf", "Q8_0"),
    ("model-IQ2_XXS.gguf", "IQ2_XXS"),
    ("model-iq3_m.gguf", "IQ3_M"),
    ("model-IQ4_NL.gguf", "IQ4_NL"),
    ("model-IQ4_XS.gguf", "IQ4_XS"),
    ("model-IQ1_S.gguf", "IQ1_S"),
    ("model-TQ1_0.gguf", "TQ1_0"),
    ("model-f16.gguf", "F16"),
    ("model-fp16.gguf", "F16"),
    ("model-BF16.gguf", "BF16"),
    ("model-F32.gguf", "F32"),
    ("model-Q2_K.gguf", "Q2_K"),
    ("model-Q3_K_L.gguf", "Q3_K_L"),
    ("model-Q6_K.gguf", "Q6_K"),
    ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
    ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
    ("qwen3-ud-iq2_xxs.gguf", "UD-IQ2_XXS"),
    ("Q4_K_M/model-Q4_K_M-00001-of-00003.gguf", "Q4_K_M"),
    ("model-Q4_0_4_4.gguf", "Q4_0_4_4"),
    ("model.gguf", None),
    ("model-Q4.gguf", None),
    ("modelQ4_K_M.gguf", None),  # not separated from the rest
    ("model-Q9_0.gguf", None),
    ("model-XQ4_K_M.gguf", None),
    ("model-00001-of-00002.gguf", None),
    ("model-F16-Q8_0.gguf", "Q8_0"),  # the last one wins
])
def test_quantization_from_name(name: str, quant: str | None) -> None:
    assert quantization_from_name(name) == quant


# -- errors -------------------------------------------------------------------------------

def test_offline_is_a_hub_error() -> None:
    endpoint = _closed_port_endpoint()
    with pytest.raises(HubError) as search_error:
        search_models("llama", endpoint=endpoint)
    assert search_error.value.kind == "offline"
    assert "connect" in str(search_error.value) and "\n" not in str(search_error.value)
    with pytest.raises(HubError) as list_error:
        list_gguf_files("org/m", endpoint=endpoint)
    assert list_error.value.kind == "offline"


def test_offline_mode_is_a_hub_error(hub_server: HubServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE") as err:
        search_models("x", endpoint=hub_server.endpoint)
    assert err.value.kind == "offline"
    assert hub_server.requests == []


def test_timeout_is_a_hub_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "TIMEOUT_S", 0.3)
    # Accepts connections (the backlog does) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(HubError) as search_error:
            search_models("x", endpoint=endpoint)
        with pytest.raises(HubError) as list_error:
            list_gguf_files("org/m", endpoint=endpoint)
    assert search_error.value.kind == list_error.value.kind == "timeout"


def test_unknown_repo_is_not_found(hub_server: HubServer) -> None:
    with pytest.raises(HubError) as err:
        list_gguf_files("nobody/nothing", endpoint=hub_server.endpoint)
    assert err.value.kind == "not_found" and err.value.status == 404
    assert '"nobody/nothing"' in str(err.value)
    hub_server.add_repo("org/m", {"a.gguf": b"a"})
    with pytest.raises(HubError) as rev:
        list_gguf_files("org/m", revision="f" * 40, endpoint=hub_server.endpoint)
    assert rev.value.kind == "not_found"


def test_invalid_repo_name(hub_server: HubServer) -> None:
    with pytest.raises(HubError) as err:
        list_gguf_files("not a/valid..name", endpoint=hub_server.endpoint)
    assert err.value.kind == "invalid_name"


@pytest.mark.parametrize(("status", "kind"), [
    (500, "server"), (503, "server"), (429, "rate_limited"), (401, "unauthorized"),
    (403, "unauthorized"), (418, "http"),
])
def test_http_errors_become_hub_errors(hub_server: HubServer, status: int, kind: str) -> None:
    hub_server.add_repo("org/m", {"a.gguf": b"a"})
    hub_server.api_status = status
    with pytest.raises(HubError) as search_error:
        search_models("x", endpoint=hub_server.endpoint)
    with pytest.raises(HubError) as list_error:
        list_gguf_files("org/m", endpoint=hub_server.endpoint)
    for err in (search_error.value, list_error.value):
        assert (err.kind, err.status) == (kind, status)
        assert str(status) in str(err) and "\n" not in str(err)
    if status == 429:
        assert "wait 7 seconds" in str(search_error.value)
    # One request each: no hidden retries with backoff (a user would wait ~25 s).
    assert len(hub_server.requests) == 2


def test_gated_download_error(hub_server: HubServer) -> None:
    hub_server.add_repo("org/gated", {"m-Q4_0.gguf": b"g"}, gated=True)
    (f,) = list_gguf_files("org/gated", endpoint=hub_server.endpoint)
    url = file_url(f, f.parts[0], endpoint=hub_server.endpoint)
    with pytest.raises(GatedRepoError) as raised:
        get_hf_file_metadata(url, token=False)
    err = to_hub_error(raised.value, repo_id="org/gated")
    assert err.kind == "gated" and err.status == 401
    assert "access token" in str(err) and '"org/gated"' in str(err)


def test_non_hub_answer_is_bad_response(hub_server: HubServer) -> None:
    # An endpoint whose /api/models is a plain file: 200, but not the Hub's JSON.
    hub_server.add_repo("web/site", {"api/models": b"<html>hello</html>"})
    endpoint = f"{hub_server.endpoint}/web/site/resolve/main"
    with pytest.raises(HubError) as err:
        search_models("x", endpoint=endpoint)
    assert err.value.kind == "bad_response"
    hub_server.add_repo("web/json", {"api/models": b'[{"no_id": 1}]'})
    with pytest.raises(HubError) as shape:
        search_models("x", endpoint=f"{hub_server.endpoint}/web/json/resolve/main")
    assert shape.value.kind == "bad_response"


def test_importing_hub_does_not_import_the_client() -> None:
    code = ("import sys, chatapp.models.hub, chatapp.models.hub_types; "
            "bad = [m for m in ('huggingface_hub', 'httpx2') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
