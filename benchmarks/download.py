"""Download benchmark: the starter model (98 MB) from a Hub-compatible server on 127.0.0.1.

Run:  .venv/bin/python benchmarks/download.py [--runs 3]

Measures, against the same loopback server in the same run:
- baseline: huggingface_hub's own `hf_hub_download` (no SHA-256 check, no resume across calls);
- ours: `chatapp.models.download.download` (hashes while writing, fsyncs, verifies, promotes);
- ours with the connection dropped three times (resumes with Range requests);
- reading the model's header from the "Hub" and estimating its fit (what the Models window
  does when a repository is selected).
Prints MB/s (median of the runs), the ratio to the baseline, and bytes served per byte
installed (1.0 = nothing fetched twice).  Loopback has no network latency: this measures the
client's own cost, which is what a fast connection would expose.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chatapp-bench-dl-"))
    os.environ["CHATAPP_DATA_DIR"] = str(work / "data")
    os.environ["CHATAPP_CONFIG_DIR"] = str(work / "config")
    os.environ["HF_HOME"] = str(work / "hf")
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

    from huggingface_hub import hf_hub_download

    from chatapp.models.download import download
    from chatapp.models.fit import assess
    from chatapp.models.hub import list_gguf_files
    from chatapp.models.remote_header import fetch_header, shape_for
    from chatapp.models.starter import install_starter
    from tests.hubserver import Fault, HubServer

    starter = install_starter(log=False)
    size = starter.stat().st_size
    repo, name = "bench/SmolLM2-GGUF", starter.name
    with HubServer() as server:
        server.add_repo(repo, {name: starter})
        endpoint = server.endpoint
        (file,) = list_gguf_files(repo, endpoint=endpoint)

        def timed(fn: object, label: str) -> float:
            speeds = []
            for i in range(args.runs):
                folder = work / f"{label}-{i}"
                folder.mkdir()
                t0 = time.perf_counter()
                fn(folder)  # type: ignore[operator]
                speeds.append(size / (time.perf_counter() - t0) / 1e6)
            return statistics.median(speeds)

        base = timed(lambda d: hf_hub_download(repo, name, endpoint=endpoint, local_dir=d),
                     "hf")
        ours = timed(lambda d: download(file, folder=d, endpoint=endpoint), "ours")
        before = server.bytes_served(repo, name)

        def dropped(d: Path) -> None:
            server.set_fault(repo, name, Fault(drop_at=[size // 5, size // 2, 4 * size // 5]))
            download(file, folder=d, endpoint=endpoint)

        resumed = timed(dropped, "drops")
        served = (server.bytes_served(repo, name) - before) / (args.runs * size)

        t0 = time.perf_counter()
        header = fetch_header(file, endpoint=endpoint)
        verdict = assess(shape_for(file, header), 4096,
                         [{"type": "CPU", "memory_free": 8 * 2**30}])
        header_ms = (time.perf_counter() - t0) * 1000
        header_bytes = server.bytes_served(repo, name) - before - args.runs * size * served

    print(f"model: {name} ({size / 1e6:.1f} MB), {args.runs} runs each, loopback")
    print(f"hf_hub_download (baseline, unverified) {base:8.1f} MB/s")
    print(f"chatapp download (verified, atomic)    {ours:8.1f} MB/s   ratio {ours / base:.2f}")
    print(f"  with 3 dropped connections           {resumed:8.1f} MB/s   ratio "
          f"{resumed / base:.2f}   bytes served per byte installed {served:.3f}")
    print(f"remote header + fit estimate           {header_ms:8.1f} ms    "
          f"({header_bytes / 1e6:.1f} MB read; verdict: {verdict.kind})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
