"""The `chatapp` command, run as a user runs it (a real subprocess, the real model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def chatapp(
    *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatapp", *args], capture_output=True, text=True,
        input=stdin, timeout=timeout,
    )


def test_version_names_all_three() -> None:
    out = chatapp("--version")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].startswith("chatapp ")
    assert lines[1] == "llama-cpp-python 0.3.36"
    assert "commit" in lines[2] and "unknown" not in lines[2]


def test_chat_streams_text(starter_model: Path) -> None:
    out = chatapp("chat", "-m", str(starter_model), "--seed", "3", "--max-tokens", "24",
                  "--temperature", "0", "What is 2 + 2?")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert "tok/s" in out.stderr and "Traceback" not in out.stderr


def test_chat_json_records_and_summary(starter_model: Path) -> None:
    out = chatapp("chat", "-m", str(starter_model), "--json", "--seed", "9", "--max-tokens", "12",
                  "--top-k", "10", "--system", "Answer briefly.", "Say hi.")
    assert out.returncode == 0, out.stderr
    objs = [json.loads(line) for line in out.stdout.splitlines()]
    tokens, summary = objs[:-1], objs[-1]
    assert tokens and all(t["type"] == "token" for t in tokens)
    first = tokens[0]
    assert {"token", "piece", "text", "stages", "chosen_rank", "chosen_p", "t_ms"} <= set(first)
    assert [s["name"] for s in first["stages"]][:3] == ["raw", "penalties", "top_k"]
    assert len(first["stages"][0]["top"]) == 20
    assert first["stages"][2]["survivors"] <= 10
    assert summary["type"] == "done"
    for key in ("prompt_tokens", "generated_tokens", "time_to_first_token_ms", "tokens_per_s",
                "finish_reason", "model_sha256", "versions", "seed"):
        assert key in summary
    assert summary["seed"] == 9 and summary["generated_tokens"] == len(tokens)


def test_same_seed_same_output_across_runs(starter_model: Path) -> None:
    args = ("chat", "-m", str(starter_model), "--seed", "77", "--temperature", "1.0",
            "--max-tokens", "20", "Invent a word.")
    assert chatapp(*args).stdout == chatapp(*args).stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("chat", "-m", "/no/such/model.gguf", "hi"), "no model file"),
        (("chat", "--top-p", "1.5", "hi"), "top_p"),
        (("models", "inspect", "/no/such/file.gguf"), "no/such/file.gguf"),
    ],
)
def test_user_mistakes_are_one_line(args: tuple[str, ...], needle: str) -> None:
    out = chatapp(*args)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_hostile_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + (2**63).to_bytes(8, "little") * 2)
    out = chatapp("chat", "-m", str(bad), "hi")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_models_inspect(starter_model: Path) -> None:
    out = chatapp("models", "inspect", str(starter_model), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["architecture"] == "llama" and info["block_count"] == 30
    text = chatapp("models", "inspect", str(starter_model))
    assert "llama" in text.stdout


def test_data_dir_is_respected(starter_model: Path, data_dir: Path) -> None:
    out = chatapp("models", "list", "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout) == []
    assert (data_dir / "models").is_dir()


def test_sampling_prints_every_stage_per_token(starter_model: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "sampling.json"
    out = chatapp("sampling", "-m", str(starter_model), "--tokens", "4", "--seed", "3",
                  "--top-k", "10", "--out", str(out_file), "Name a fruit.")
    assert out.returncode == 0, out.stderr
    blocks = [b for b in out.stdout.split("\n\n") if b.startswith("token ")]
    assert len(blocks) == 4
    for block in blocks:
        lines = block.splitlines()
        assert "rank" in lines[0] and "p " in lines[0]
        names = [line.split()[0] for line in lines[2:]]
        assert names == ["raw", "penalties", "top_k", "top_p", "min_p", "temperature"]
        top_k_line = lines[4].split()
        assert int(top_k_line[1]) <= 10
    assert "[4 tokens, seed 3" in out.stdout
    report = json.loads(out_file.read_text("utf-8"))
    assert len(report["tokens"]) == 4 and report["sampling"]["top_k"] == 10


def test_sampling_json_has_all_stages_and_candidates(starter_model: Path) -> None:
    from chatapp.core.sampling import STAGES, SamplingSettings
    from chatapp.core.whatif import CANDIDATES_N, replay

    out = chatapp("sampling", "-m", str(starter_model), "--json", "--tokens", "5",
                  "--temperature", "0.8", "--top-p", "0.9", "--seed", "11", "What is 2 + 2?")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["sampling"]["seed"] == 11 and report["summary"]["generated_tokens"] == 5
    settings = SamplingSettings.from_dict(report["sampling"] | {"stop": ()})
    for t in report["tokens"]:
        assert [s["name"] for s in t["stages"]] == list(STAGES)
        assert all(len(s["top"]) == min(20, s["survivors"]) for s in t["stages"])
        cands = t["candidates"]
        assert len(cands) == CANDIDATES_N and len({c[0] for c in cands}) == CANDIDATES_N
        assert [c[1] for c in cands] == sorted((c[1] for c in cands), reverse=True)
        assert cands[0][1] < t["candidates_lse"]
        # the JSON carries all a what-if needs: replaying it gives the recorded last stage
        w = replay(cands, t["candidates_lse"], settings, chosen=t["token"])
        assert w.exact and w.final.survivors == t["stages"][-1]["survivors"]
        assert abs(w.formula.p - t["chosen_p"]) <= 1e-5


def test_sampling_mistakes_are_one_line() -> None:
    for args in (("sampling", "--top-p", "1.5", "hi"), ("sampling", "--top-n", "0", "hi"),
                 ("sampling", "-m", "/no/such/model.gguf", "hi")):
        out = chatapp(*args)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
