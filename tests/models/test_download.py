"""The download manager against a real Hub-compatible server on 127.0.0.1.

Real GGUF files (the 98 MB starter model, a small llama GGUF, a real 3-part split), the real
huggingface_hub client session, real faults on the wire (dropped connections, stalls, ignored
Range headers, flipped bytes, short and long bodies), a real file-size limit in a subprocess.
Every download is watched: at each progress report the models folder must hold no new `.gguf`,
and at the end every `.gguf` there must have the SHA-256 the Hub announced.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import gguf
import huggingface_hub.constants
import numpy as np
import pytest

from chatapp.engine.hashing import sha256_file
from chatapp.models import download as dl
from chatapp.models.download import (
    DownloadError,
    PendingDownload,
    Progress,
    discard_download,
    download,
    download_key,
    pending_downloads,
)
from chatapp.models.hub_types import HubFilePart, HubModelFile
from chatapp.models.starter import STARTER
from chatapp.paths import cache_dir, models_dir
from tests.hubserver import Fault, HubServer
from tests.net import free_port

REPO = "tester/tiny-GGUF"
ROOT = Path(__file__).resolve().parents[2]


def _sha(path: Path) -> str:
    """An independent SHA-256 (never the app's cache: it is what the download seeds)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _publish(server: HubServer, files: dict[str, Path], name: str | None = None,
             repo: str = REPO, **repo_args: object) -> HubModelFile:
    """Put files in a repo on the server; the HubModelFile a Hub listing would give."""
    commit = server.add_repo(repo, dict(files), **repo_args)  # type: ignore[arg-type]
    parts = tuple(HubFilePart(path, p.stat().st_size, _sha(p)) for path, p in files.items())
    return HubModelFile(repo, commit, name or parts[0].file_name, None, parts)


def _ggufs(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.gguf")} if folder.is_dir() else set()


def _gets(server: HubServer, path: str) -> list[str | None]:
    """The Range headers of the GETs of one file, in order."""
    return [r.range for r in server.requests if r.method == "GET" and r.path.endswith(path)]


class Watch:
    """An `on_progress` that checks, at every report, that no new `.gguf` has appeared."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.before = _ggufs(folder)
        self.reports: list[Progress] = []

    def __call__(self, progress: Progress) -> None:
        assert _ggufs(self.folder) == self.before, "a .gguf appeared before verification"
        assert 0 <= progress.done <= progress.total
        self.reports.append(progress)

    @property
    def notes(self) -> list[str]:
        return [p.note for p in self.reports if p.note]


def _only_verified(folder: Path, *files: HubModelFile, extra: dict[str, str] | None = None
                   ) -> None:
    """Every .gguf in the folder is a part of `files` (under any name) or listed in `extra`."""
    known = {p.sha256 for f in files for p in f.parts} | set((extra or {}).values())
    for path in folder.glob("*.gguf"):
        assert _sha(path) in known, f"{path.name} was not verified"


def _no_partial_left(folder: Path, file: HubModelFile) -> None:
    key = download_key(file)
    partial = folder / dl.PARTIAL_DIR
    left = [p.name for p in partial.glob(f"{key}.*")] if partial.is_dir() else []
    assert left in ([], [f"{key}.lock"]), left
    assert not [p for p in pending_downloads(folder) if p.key == key]


def _write_split_gguf(folder: Path) -> list[Path]:
    """A real 3-part split GGUF (gguf's writer, one tensor per part, `split.*` metadata)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(folder / "tiny-split-F32.gguf", "llama", split_max_tensors=1)
    writer.add_name("tiny-split")
    writer.add_block_count(1)
    rng = np.random.default_rng(7)
    for name in ("token_embd", "output_norm", "output"):
        writer.add_tensor(f"{name}.weight", rng.standard_normal((64, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    parts = sorted(folder.glob("tiny-split-F32-*-of-00003.gguf"))
    assert len(parts) == 3
    return parts


@pytest.fixture(autouse=True)
def _no_stored_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gated-repo tests must not pick up a token of the machine's user."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    no_file = Path(os.environ["CHATAPP_DATA_DIR"]).parent / "no-hf-token"
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(no_file))


# --- whole downloads ------------------------------------------------------------------------


def test_clean_download_installs_verified_file(hub_server: HubServer, small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    folder = models_dir()
    watch = Watch(folder)

    path = download(file, endpoint=hub_server.endpoint, on_progress=watch)

    assert path == folder / "tiny-llama-F32.gguf"
    assert _sha(path) == file.parts[0].sha256
    assert _gets(hub_server, "tiny-llama-F32.gguf") == ["bytes=0-"]
    last = watch.reports[-1]
    assert (last.done, last.total, last.part, last.parts) == (file.size, file.size, 1, 1)
    _only_verified(folder, file)
    _no_partial_left(folder, file)


def test_sources_and_hash_cache_are_recorded(hub_server: HubServer, small_gguf: Path) -> None:
    file = _publish(hub_server, {"sub/tiny-llama-F32.gguf": small_gguf})
    path = download(file, endpoint=hub_server.endpoint)

    sources = json.loads((models_dir() / dl.SOURCES_FILE).read_text("utf-8"))
    entry = sources["tiny-llama-F32.gguf"]
    assert entry["repo_id"] == REPO
    assert entry["revision"] == file.revision
    assert entry["path"] == "sub/tiny-llama-F32.gguf"
    assert entry["sha256"] == file.parts[0].sha256
    assert entry["downloaded_at"].startswith(time.strftime("%Y", time.gmtime()))

    # The library and the model process find the hash under sha256_file's own key...
    cache = cache_dir() / dl.HASH_CACHE
    st = path.stat()
    key = f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"
    assert json.loads(cache.read_text("utf-8")) == {key: file.parts[0].sha256}
    # ...and use it instead of reading the file: an entry we plant is what comes back.
    planted = {key: "f" * 64}
    cache.write_text(json.dumps(planted), "utf-8")
    assert sha256_file(path, cache) == "f" * 64


def test_split_model_parts_promoted_first_part_last(
    hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = _write_split_gguf(tmp_path / "split")
    file = _publish(hub_server, {f"F32/{p.name}": p for p in parts}, name="tiny-split-F32.gguf")
    folder = models_dir()
    moves: list[str] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).suffix == ".gguf":
            moves.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    watch = Watch(folder)
    path = download(file, endpoint=hub_server.endpoint, on_progress=watch)

    assert path == folder / parts[0].name
    assert moves == [parts[1].name, parts[2].name, parts[0].name]
    for p in parts:
        assert _sha(folder / p.name) == _sha(p)
        assert gguf.GGUFReader(folder / p.name).fields["split.count"].parts[-1][0] == 3
    assert {r.part for r in watch.reports} == {1, 2, 3}
    assert watch.reports[-1].done == file.size
    _only_verified(folder, file)
    _no_partial_left(folder, file)


def test_starter_model_resumes_after_three_drops(hub_server: HubServer,
                                                 starter_model: Path) -> None:
    size = STARTER.size
    drops = sorted(random.Random(20240611).sample(range(1, size), 3))
    file = HubModelFile(REPO, hub_server.add_repo(REPO, {STARTER.file_name: starter_model}),
                        STARTER.file_name, "Q4_1",
                        (HubFilePart(STARTER.file_name, size, STARTER.sha256),))
    hub_server.set_fault(REPO, STARTER.file_name, Fault(drop_at=list(drops)))
    folder = models_dir()
    watch = Watch(folder)

    path = download(file, endpoint=hub_server.endpoint, on_progress=watch)

    assert _sha(path) == STARTER.sha256
    assert hub_server.bytes_served(REPO, STARTER.file_name) < 1.5 * size
    # Each retry asks for exactly the bytes it does not have.
    assert _gets(hub_server, STARTER.file_name) == [f"bytes={n}-" for n in [0, *drops]]
    dropped = [n for n in watch.notes if n.startswith("Connection dropped")]
    assert len(dropped) == 3
    assert dropped[0] == (f"Connection dropped; resuming at {dl._fmt(drops[0])} "
                          "(retry 1 of 5).")
    _only_verified(folder, file)


def test_server_ignoring_range_makes_it_start_over(hub_server: HubServer,
                                                   small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    hub_server.set_fault(REPO, "tiny-llama-F32.gguf",
                         Fault(drop_at=[100_000], ignore_range=True))
    watch = Watch(models_dir())

    path = download(file, endpoint=hub_server.endpoint, on_progress=watch)

    assert _sha(path) == file.parts[0].sha256
    assert _gets(hub_server, "tiny-llama-F32.gguf") == ["bytes=0-", "bytes=100000-"]
    assert "The server does not support resuming; starting over." in watch.notes
    # The second body was the whole file; it replaced the kept bytes, nothing was appended.
    assert hub_server.bytes_served(REPO, "tiny-llama-F32.gguf") == 100_000 + (file.size or 0)
    _only_verified(models_dir(), file)


def test_stall_counts_as_drop_and_resumes(hub_server: HubServer, small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    hub_server.set_fault(REPO, "tiny-llama-F32.gguf", Fault(stall_at=50_000, stall_s=60))
    watch = Watch(models_dir())

    path = download(file, endpoint=hub_server.endpoint, on_progress=watch, stall_timeout=1)

    assert _sha(path) == file.parts[0].sha256
    assert _gets(hub_server, "tiny-llama-F32.gguf") == ["bytes=0-", "bytes=50000-"]
    assert "No data for 1 s; resuming at 50.0 KB (retry 1 of 5)." in watch.notes


# --- failures that delete the bytes ---------------------------------------------------------


def _assert_nothing_installed(file: HubModelFile) -> None:
    assert _ggufs(models_dir()) == set()
    _no_partial_left(models_dir(), file)
    assert not list((models_dir() / dl.PARTIAL_DIR).glob("*.part"))


def test_flipped_byte_is_a_checksum_error(hub_server: HubServer, small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    hub_server.set_fault(REPO, "tiny-llama-F32.gguf", Fault(flip_byte_at=123_456))

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint, on_progress=Watch(models_dir()))

    assert caught.value.kind == "checksum"
    assert not caught.value.resumable
    assert str(caught.value) == (
        "tiny-llama-F32.gguf was damaged in transit (its SHA-256 does not match the Hub's); "
        "the partial file was deleted — try again.")
    _assert_nothing_installed(file)


@pytest.mark.parametrize("extra", [+1000, -1000])
def test_body_of_the_wrong_size_is_a_size_error(hub_server: HubServer, small_gguf: Path,
                                                extra: int) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    size = file.size or 0
    hub_server.set_fault(REPO, "tiny-llama-F32.gguf", Fault(serve_size=size + extra))

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint, on_progress=Watch(models_dir()))

    assert caught.value.kind == "size"
    assert not caught.value.resumable
    if extra > 0:
        assert str(caught.value) == (
            f"The Hub sent more than the {dl._fmt(size)} of tiny-llama-F32.gguf; the partial "
            "file was deleted — try again.")
    else:
        assert str(caught.value) == (
            f"The Hub ended tiny-llama-F32.gguf at {dl._fmt(size - 1000)} of {dl._fmt(size)} "
            "and said it was complete; the partial file was deleted — try again.")
    _assert_nothing_installed(file)


# --- failures that keep the bytes -----------------------------------------------------------


def test_retries_exhausted_keeps_bytes_and_next_call_resumes(hub_server: HubServer,
                                                             small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    # After the first drop, every attempt from 100,000 is dropped before a byte comes.
    hub_server.set_fault(REPO, "tiny-llama-F32.gguf", Fault(drop_at=[100_000] * 5))
    watch = Watch(models_dir())

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint, on_progress=watch, retries=2)

    assert caught.value.kind == "dropped"
    assert caught.value.resumable
    assert str(caught.value) == (
        f"The connection to the Hub dropped 3 times in a row; 100.0 KB of {dl._fmt(file.size or 0)}"
        " are kept — resume the download later.")
    assert [n.split(";")[0] for n in watch.notes] == ["Connection dropped"] * 2
    assert _ggufs(models_dir()) == set()
    assert pending_downloads() == [PendingDownload(download_key(file), file, 100_000, file.size)]

    hub_server.set_fault(REPO, "tiny-llama-F32.gguf", None)
    watch = Watch(models_dir())
    path = download(file, endpoint=hub_server.endpoint, on_progress=watch)

    assert _sha(path) == file.parts[0].sha256
    assert _gets(hub_server, "tiny-llama-F32.gguf")[-1] == "bytes=100000-"
    assert watch.notes[0] == "Verifying…"  # the kept bytes are hashed again, not trusted
    assert watch.reports[0].done == 100_000
    _no_partial_left(models_dir(), file)


def test_cancel_from_another_thread_keeps_bytes_then_discard(hub_server: HubServer,
                                                             small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    # A server that goes silent: only the cancel can end this download.
    hub_server.set_fault(REPO, "tiny-llama-F32.gguf", Fault(stall_at=100_000, stall_s=120))
    cancel = threading.Event()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            download(file, endpoint=hub_server.endpoint, cancel=cancel, stall_timeout=120,
                     on_progress=Watch(models_dir()))
        except BaseException as err:
            outcome.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while hub_server.bytes_served(REPO, "tiny-llama-F32.gguf") < 100_000:
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.02)
    time.sleep(0.3)  # let the client read what the server wrote before it went silent

    # While it runs, the same file cannot be downloaded or discarded a second time.
    with pytest.raises(DownloadError) as busy:
        download(file, endpoint=hub_server.endpoint)
    assert busy.value.kind == "busy"
    with pytest.raises(DownloadError):
        discard_download(download_key(file))

    cancel.set()
    worker.join(timeout=60)  # far below the 120 s stall: the cancel woke the blocked read
    assert not worker.is_alive(), "cancel did not interrupt a stalled read"
    assert len(outcome) == 1 and isinstance(outcome[0], DownloadError)
    err = outcome[0]
    assert err.kind == "cancelled"
    assert err.resumable
    assert str(err).startswith("The download of tiny-llama-F32.gguf was cancelled; the ")

    key = download_key(file)
    [pending] = pending_downloads()
    part = models_dir() / dl.PARTIAL_DIR / f"{key}.0.part"
    assert pending.key == key and pending.file == file and pending.total == file.size
    assert 0 < pending.done <= 100_000
    assert pending.done == part.stat().st_size
    assert _ggufs(models_dir()) == set()

    discard_download(key)
    assert pending_downloads() == []
    assert not list((models_dir() / dl.PARTIAL_DIR).glob(f"{key}.*"))
    discard_download(key)  # nothing left: a no-op


def test_no_space_is_refused_before_any_request(hub_server: HubServer) -> None:
    file = HubModelFile(REPO, "0" * 40, "huge.gguf", None,
                        (HubFilePart("huge.gguf", 10**15, "a" * 64),))
    free = shutil.disk_usage(models_dir()).free

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint)

    assert caught.value.kind == "no_space"
    assert not caught.value.resumable
    match = re.fullmatch(r"Not enough disk space: the download needs 1000\.0 TB more and "
                         r"([\d.]+) (KB|MB|GB|TB) are free in (.+)\.", str(caught.value))
    assert match, str(caught.value)
    shown = float(match[1]) * {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[match[2]]
    assert abs(shown - free) <= 0.05 * free + 2e6  # other processes write to this disk too
    assert match[3] == str(models_dir())
    assert hub_server.requests == []
    assert pending_downloads() == []


def test_file_without_sha256_is_refused(hub_server: HubServer, small_gguf: Path) -> None:
    good = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    file = HubModelFile(REPO, good.revision, good.name, None,
                        (HubFilePart("tiny-llama-F32.gguf", good.size, None),))

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint)

    assert caught.value.kind == "no_hash"
    assert str(caught.value) == ("The Hub gives no SHA-256 for tiny-llama-F32.gguf; chatapp "
                                 "installs only files it can verify.")
    assert hub_server.requests == []


_DISK_FULL_SCRIPT = """
import json, resource, signal, sys
from chatapp.models.download import DownloadError, download
from chatapp.models.hub_types import HubModelFile

file = HubModelFile.from_dict(json.loads(sys.argv[1]))
limit = int(sys.argv[3])
# Writing past RLIMIT_FSIZE then fails with EFBIG instead of killing the process.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    download(file, endpoint=sys.argv[2])
except DownloadError as err:
    print(json.dumps({"kind": err.kind, "resumable": err.resumable, "message": str(err)}))
else:
    print(json.dumps({"kind": None}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_disk_full_keeps_written_bytes_and_resumes(hub_server: HubServer,
                                                   small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    limit = 100_000
    done = subprocess.run(
        [sys.executable, "-c", _DISK_FULL_SCRIPT, json.dumps(file.to_dict()),
         hub_server.endpoint, str(limit)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kind"] == "disk_full"
    assert result["resumable"] is True
    assert result["message"] == (
        f"{models_dir()} cannot hold a file this large (file too large; FAT32 drives stop at "
        f"4 GB); 100.0 KB of {dl._fmt(file.size or 0)} are kept — move the models folder to "
        "another drive, then resume the download.")
    assert _ggufs(models_dir()) == set()
    assert [p.done for p in pending_downloads()] == [limit]

    watch = Watch(models_dir())
    path = download(file, endpoint=hub_server.endpoint, on_progress=watch)

    assert _sha(path) == file.parts[0].sha256
    assert _gets(hub_server, "tiny-llama-F32.gguf")[-1] == f"bytes={limit}-"
    _no_partial_left(models_dir(), file)


# --- errors from the Hub and the network ----------------------------------------------------


def test_missing_file_is_a_clear_404(hub_server: HubServer, small_gguf: Path) -> None:
    good = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    file = HubModelFile(REPO, good.revision, "gone.gguf", None,
                        (HubFilePart("gone.gguf", good.size, good.parts[0].sha256),))

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint)

    assert caught.value.kind == "http"
    assert not caught.value.resumable  # nothing was kept
    assert str(caught.value) == (f"gone.gguf is no longer on the Hub at this revision of {REPO} "
                                 "(HTTP 404); search again for a current version.")
    _assert_nothing_installed(file)


@pytest.mark.parametrize(("status", "message"), [
    (500, "The Hub's server failed (HTTP 500), 2 times in a row; try again later."),
    (503, "The Hub's server failed (HTTP 503), 2 times in a row; try again later."),
    (429, "The Hub is limiting requests (HTTP 429), 2 times in a row; try again later."),
])
def test_busy_or_failing_server_is_retried_then_reported(
    hub_server: HubServer, small_gguf: Path, status: int, message: str
) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    hub_server.set_fault(REPO, "tiny-llama-F32.gguf", Fault(status=status))
    watch = Watch(models_dir())

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint, retries=1, on_progress=watch)

    assert caught.value.kind == "http"
    assert str(caught.value) == message
    assert watch.notes == [f"{message.split(',')[0]}; trying again (retry 1 of 1)."]
    assert len(_gets(hub_server, "tiny-llama-F32.gguf")) == 2
    _assert_nothing_installed(file)


def test_gated_repo_needs_a_token(hub_server: HubServer, small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf}, gated=True)

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint)

    assert caught.value.kind == "http"
    assert str(caught.value) == (
        f"The Hub refused access to {REPO} (HTTP 401): the model may be gated or private — "
        "accept its terms on huggingface.co and add a token, then try again.")
    _assert_nothing_installed(file)

    path = download(file, endpoint=hub_server.endpoint, token="hf_test_token")
    assert _sha(path) == file.parts[0].sha256
    assert hub_server.requests[-1].headers["authorization"] == "Bearer hf_test_token"


def test_unreachable_hub_is_offline(small_gguf: Path) -> None:
    port = free_port()  # a port nobody listens on
    file = HubModelFile(REPO, "0" * 40, "tiny.gguf", None,
                        (HubFilePart("tiny.gguf", small_gguf.stat().st_size, _sha(small_gguf)),))

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=f"http://127.0.0.1:{port}")

    assert caught.value.kind == "offline"
    assert str(caught.value) == (f"Cannot reach the Hub at 127.0.0.1:{port}; check the internet "
                                 "connection, then resume the download.")
    assert pending_downloads() == []


def test_offline_mode_of_the_client_is_reported(hub_server: HubServer, small_gguf: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(DownloadError) as caught:
        download(file, endpoint=hub_server.endpoint)

    assert caught.value.kind == "offline"
    assert "HF_HUB_OFFLINE" in str(caught.value)
    assert hub_server.requests == []


# --- names in the models folder -------------------------------------------------------------


def test_name_taken_by_other_file_gets_suffix_same_content_is_reused(
    hub_server: HubServer, small_gguf: Path, starter_model: Path
) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    folder = models_dir()
    # A different model already has the name.
    shutil.copyfile(starter_model, folder / "tiny-llama-F32.gguf")

    path = download(file, endpoint=hub_server.endpoint, on_progress=Watch(folder))

    assert path == folder / "tiny-llama-F32 (2).gguf"
    assert _sha(path) == file.parts[0].sha256
    assert _sha(folder / "tiny-llama-F32.gguf") == STARTER.sha256
    sources = json.loads((folder / dl.SOURCES_FILE).read_text("utf-8"))
    assert list(sources) == ["tiny-llama-F32 (2).gguf"]

    # The same file again: found under its suffixed name, nothing fetched, no third copy.
    gets = len(_gets(hub_server, "tiny-llama-F32.gguf"))
    assert download(file, endpoint=hub_server.endpoint) == path
    assert len(_gets(hub_server, "tiny-llama-F32.gguf")) == gets
    assert _ggufs(folder) == {"tiny-llama-F32.gguf", "tiny-llama-F32 (2).gguf"}
    _only_verified(folder, file, extra={"starter": STARTER.sha256})


def test_same_content_under_the_name_is_not_downloaded(hub_server: HubServer,
                                                       small_gguf: Path) -> None:
    file = _publish(hub_server, {"tiny-llama-F32.gguf": small_gguf})
    folder = models_dir()
    shutil.copyfile(small_gguf, folder / "tiny-llama-F32.gguf")

    assert download(file, endpoint=hub_server.endpoint) == folder / "tiny-llama-F32.gguf"
    assert hub_server.requests == []
    assert _ggufs(folder) == {"tiny-llama-F32.gguf"}


def test_split_names_get_the_suffix_before_the_part_marker() -> None:
    assert dl._candidate("m-Q4-00002-of-00003.gguf", 1, True) == "m-Q4-00002-of-00003.gguf"
    assert dl._candidate("m-Q4-00002-of-00003.gguf", 2, True) == "m-Q4 (2)-00002-of-00003.gguf"
    assert dl._candidate("m-Q4-00002-of-00003.gguf", 3, False) == "m-Q4-00002-of-00003 (3).gguf"
    assert dl._candidate("model.Q4_K_M.gguf", 2, False) == "model.Q4_K_M (2).gguf"


def test_unsafe_file_name_is_refused(hub_server: HubServer) -> None:
    for name in (".sources.json", "notes.txt", ".hidden.gguf"):
        file = HubModelFile(REPO, "0" * 40, name, None, (HubFilePart(name, 10, "a" * 64),))
        with pytest.raises(DownloadError) as caught:
            download(file, endpoint=hub_server.endpoint)
        assert caught.value.kind == "bad_name"
    assert hub_server.requests == []


# --- records --------------------------------------------------------------------------------


def test_unreadable_records_are_skipped_and_keys_checked(small_gguf: Path) -> None:
    partial = models_dir() / dl.PARTIAL_DIR
    partial.mkdir(parents=True)
    (partial / "0123456789abcdef.json").write_text("{not json", "utf-8")
    file = HubModelFile(REPO, "0" * 40, "x.gguf", None, (HubFilePart("x.gguf", 10, "a" * 64),))
    # A record whose name is not its file's key (copied by hand, say) is not offered.
    (partial / "fedcba9876543210.json").write_text(
        json.dumps({"format": 1, "file": file.to_dict(), "done": [0], "created": "x"}), "utf-8")

    assert pending_downloads() == []
    discard_download("0123456789abcdef")
    assert not (partial / "0123456789abcdef.json").exists()
    with pytest.raises(ValueError):
        discard_download("../../etc")
