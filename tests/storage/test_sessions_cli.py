"""`chatapp chat` saving and `chatapp sessions ...`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.storage.test_exchange import webui_export


def chatapp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chatapp", *args], capture_output=True,
                          text=True, timeout=120)


def ok(*args: str) -> Any:
    out = chatapp(*args, "--json") if args[0] == "sessions" and args[1] != "export" \
        else chatapp(*args)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout) if "--json" in out.args else out.stdout


def test_chat_saves_and_sessions_commands(starter_model: Path, tmp_path: Path) -> None:
    model = str(starter_model)
    first = chatapp("chat", "-m", model, "--seed", "1", "--max-tokens", "12",
                    "--system", "Answer in one line.", "Name a colour.")
    assert first.returncode == 0 and "[saved in conversation" in first.stderr
    (conv,) = ok("sessions", "list")
    assert conv["title"] == "Name a colour."
    cont = chatapp("chat", "-m", model, "--session", conv["id"], "--seed", "2",
                   "--max-tokens", "12", "And another?")
    assert cont.returncode == 0, cont.stderr
    shown = ok("sessions", "show", conv["id"])
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "user", "assistant"]
    reply = shown["messages"][1]
    assert reply["status"] == "complete" and reply["content"].strip()
    prov = reply["provenance"]
    assert prov["seed"] == 1 and prov["model_file"] == starter_model.name
    assert len(prov["model_sha256"]) == 64 and prov["versions"]["llama_cpp_python"]
    assert prov["sampling"]["temperature"] == 0.7 and prov["n_ctx"] == 4096

    hits = ok("sessions", "search", "colour")
    assert hits and hits[0]["conversation_id"] == conv["id"] and "«" in hits[0]["snippet"]

    md = ok("sessions", "export", conv["id"], "--format", "md")
    assert "### You" in md and "Name a colour." in md
    doc_path = tmp_path / "conv.json"
    ok("sessions", "export", conv["id"], "--format", "json", "-o", str(doc_path))
    doc = json.loads(doc_path.read_text())
    assert doc["format"] == "chatapp.conversation" and len(doc["messages"]) == 4
    assert doc["messages"][1]["records"] and doc["messages"][1]["records"][0]["stages"]

    (copy,) = ok("sessions", "import", str(doc_path))
    assert copy["id"] != conv["id"]
    webui = tmp_path / "webui.json"
    webui.write_text(json.dumps(webui_export()))
    (imported,) = ok("sessions", "import", str(webui))
    assert imported["title"] == "Greetings"

    ok("sessions", "delete", conv["id"])
    assert conv["id"] not in [c["id"] for c in ok("sessions", "list")]
    assert conv["id"] in [c["id"] for c in ok("sessions", "list", "--trash")]
    # trashed conversations are not found (the imported copy still is)
    assert all(h["conversation_id"] != conv["id"] for h in ok("sessions", "search", "colour"))
    ok("sessions", "restore", conv["id"])
    assert conv["id"] in [c["id"] for c in ok("sessions", "list")]


def test_no_save_saves_nothing(starter_model: Path) -> None:
    out = chatapp("chat", "-m", str(starter_model), "--no-save", "--max-tokens", "4", "Hi")
    assert out.returncode == 0 and "saved" not in out.stderr
    assert ok("sessions", "list") == []


@pytest.mark.parametrize("args", [
    ("sessions", "show", "nope"), ("sessions", "delete", "nope"),
    ("chat", "--session", "nope", "hi"), ("sessions", "import", "/no/such.json"),
])
def test_mistakes_are_one_line(starter_model: Path, args: tuple[str, ...]) -> None:
    full = (*args[:1], "-m", str(starter_model), *args[1:]) if args[0] == "chat" else args
    out = chatapp(*full)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_import_of_a_non_conversation_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    out = chatapp("sessions", "import", str(bad))
    assert out.returncode == 1 and "not a chatapp conversation" in out.stderr


def test_sampling_settings_stick_to_a_conversation(starter_model: Path) -> None:
    model = str(starter_model)
    assert chatapp("chat", "-m", model, "--preset", "Precise", "--max-tokens", "3",
                   "Hi").returncode == 0
    (conv,) = ok("sessions", "list")
    cont = chatapp("chat", "-m", model, "--session", conv["id"], "--max-tokens", "3", "Again")
    assert cont.returncode == 0, cont.stderr
    replies = [m for m in ok("sessions", "show", conv["id"])["messages"]
               if m["role"] == "assistant"]
    # Precise is temperature 0.2; the second turn kept it without being told again
    assert [r["provenance"]["sampling"]["temperature"] for r in replies] == [0.2, 0.2]
    chatapp("chat", "-m", model, "--session", conv["id"], "--temperature", "0.9",
            "--max-tokens", "3", "Once more")
    chatapp("chat", "-m", model, "--session", conv["id"], "--max-tokens", "3", "Last")
    replies = [m for m in ok("sessions", "show", conv["id"])["messages"]
               if m["role"] == "assistant"]
    assert [r["provenance"]["sampling"]["temperature"] for r in replies][2:] == [0.9, 0.9]
    bad = chatapp("chat", "-m", model, "--preset", "Nope", "hi")
    assert bad.returncode == 1 and "Precise" in bad.stderr and "Traceback" not in bad.stderr
