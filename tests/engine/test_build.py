"""`chatapp engine --ensure-rpc`: the installed build is read in a real child process; the
rebuild's steps (pip's cache folder, compile, keep, install, check again) run against a
scripted pip, since a real compile takes ten minutes (the README's install command, which CI
runs on a machine whose pip cache holds a build without RPC, is the real one)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from chatapp.cli import main
from chatapp.engine import build
from chatapp.engine.build import BuildError, BuildFacts


def test_probe_reads_this_interpreters_build_in_a_child() -> None:
    facts = build.probe()
    assert facts.version == importlib.metadata.version("llama-cpp-python")
    assert facts.rpc == bool(llama_cpp.llama_supports_rpc())


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for python")
def test_probe_of_a_python_without_the_library_says_so(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="could not import llama-cpp-python"):
        build.probe(str(_bare_python(tmp_path)))


def _bare_python(tmp_path: Path) -> Path:
    """An interpreter that cannot import llama_cpp: -I ignores site-packages and PYTHONPATH."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S \"$@\"\n")
    script.chmod(0o755)
    return script


def test_an_interpreter_that_does_not_exist_is_a_build_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="could not run"):
        build.probe(str(tmp_path / "no-such-python"))


def test_engine_command_prints_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engine", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["version"] == importlib.metadata.version("llama-cpp-python")
    assert facts["rpc"] == bool(llama_cpp.llama_supports_rpc())


def test_the_packaged_app_refuses_plainly(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert main(["engine", "--ensure-rpc"]) == 1
    assert "packaged app carries its own llama.cpp" in capsys.readouterr().err


@pytest.mark.skipif(not llama_cpp.llama_supports_rpc(), reason="this build has no RPC")
def test_a_build_with_rpc_is_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[list[str]] = []

    def recording(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.run(cmd, **kw)

    assert build.ensure_rpc(run=recording).rpc
    assert len(calls) == 1 and calls[0][1] == "-c"  # the probe, and no pip at all
    assert main(["engine", "--ensure-rpc"]) == 0
    assert "has RPC; nothing to do" in capsys.readouterr().out


def test_cmake_args_add_rpc_and_keep_the_gpu_and_the_users_options() -> None:
    cpu = BuildFacts("0.3.36", False, ())
    assert build.rpc_cmake_args(cpu) == ["-DGGML_RPC=on"]
    cuda = BuildFacts("0.3.36", False, ("CUDA",))
    assert build.rpc_cmake_args(cuda) == ["-DGGML_RPC=on", "-DGGML_CUDA=on"]
    # The user's options come first and win (their own CUDA setting is not overridden).
    assert build.rpc_cmake_args(cuda, '-DGGML_NATIVE=OFF -DGGML_CUDA=ON "-DX=a b"') == [
        "-DGGML_NATIVE=OFF", "-DGGML_CUDA=ON", "-DX=a b", "-DGGML_RPC=on"]
    assert build.rpc_cmake_args(cpu, "-DGGML_RPC:BOOL=ON") == ["-DGGML_RPC:BOOL=ON"]
    # Metal is on by default on macOS: nothing to add for it.
    assert build.rpc_cmake_args(BuildFacts("0.3.36", False, ("Metal",))) == ["-DGGML_RPC=on"]


def test_cache_key_changes_with_every_input() -> None:
    base = ("0.3.36", ["-DGGML_RPC=on"], "cpython-311", "linux-x86_64")
    keys = {build.cache_key(*base),
            build.cache_key("0.3.37", *base[1:]),
            build.cache_key(base[0], ["-DGGML_RPC=on", "-DGGML_CUDA=on"], *base[2:]),
            build.cache_key(*base[:2], "cpython-312", base[3]),
            build.cache_key(*base[:3], "macosx-14.0-arm64")}
    assert len(keys) == 5 and build.cache_key(*base) == build.cache_key(*base)


class ScriptedPip:
    """Answers the commands ensure_rpc runs: the probe, `pip cache dir`, `pip wheel` (writes a
    wheel, unless told to fail), `pip install` (the installed build becomes the wheel's)."""

    def __init__(self, cache: Path | None, builds_with_rpc: bool = True,
                 compile_fails: bool = False) -> None:
        self.cache, self.builds_with_rpc, self.compile_fails = cache, builds_with_rpc, compile_fails
        self.installed_rpc = False
        self.commands: list[str] = []
        self.compile_env: dict[str, str] = {}

    def __call__(self, cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        def done(code: int = 0, out: str = "") -> subprocess.CompletedProcess[str]:
            return subprocess.CompletedProcess(cmd, code, out, "pip said no" if code else "")

        if cmd[1] == "-c" and "llama_supports_rpc" in cmd[2]:
            self.commands.append("probe")
            return done(out=json.dumps({"version": "0.3.36", "rpc": self.installed_rpc,
                                        "gpu_backends": []}) + "\n")
        verb = cmd[3]
        self.commands.append(verb)
        if verb == "cache":
            return done(out=f"{self.cache}\n") if self.cache else done(1)
        if verb == "wheel":
            if self.compile_fails:
                return done(1)
            self.compile_env = dict(kw["env"])
            out = Path(cmd[cmd.index("--wheel-dir") + 1])
            wheel = out / "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"
            wheel.write_text("rpc" if self.builds_with_rpc else "plain")
            return done()
        if verb == "install":
            self.installed_rpc = Path(cmd[-1]).read_text() == "rpc"
            return done()
        raise AssertionError(cmd)


def test_a_build_without_rpc_is_compiled_once_then_installed_from_our_cache(
        tmp_path: Path) -> None:
    pip = ScriptedPip(tmp_path / "pip-cache")
    said: list[str] = []
    facts = build.ensure_rpc(env={"CMAKE_ARGS": "-DGGML_NATIVE=OFF"}, run=pip, say=said.append)
    assert facts.rpc and pip.commands == ["probe", "cache", "wheel", "install", "probe"]
    assert pip.compile_env["CMAKE_ARGS"] == "-DGGML_NATIVE=OFF -DGGML_RPC=on"
    assert "Compiling" in said[0] and "now has RPC" in said[-1]
    kept = list((tmp_path / "pip-cache" / build.CACHE_FOLDER).glob("*/*.whl"))
    assert len(kept) == 1

    # A fresh venv whose pip reinstalled the stale build: no compile this time.
    again = ScriptedPip(tmp_path / "pip-cache")
    said.clear()
    assert build.ensure_rpc(env={"CMAKE_ARGS": "-DGGML_NATIVE=OFF"}, run=again,
                            say=said.append).rpc
    assert again.commands == ["probe", "cache", "install", "probe"]
    assert str(kept[0]) in said[0]
    # Other options are another build: compiled, not taken from the cache.
    other = ScriptedPip(tmp_path / "pip-cache")
    build.ensure_rpc(env={}, run=other, say=said.append)
    assert "wheel" in other.commands


def test_without_pips_cache_the_build_is_installed_from_a_scratch_folder(tmp_path: Path) -> None:
    pip = ScriptedPip(None)
    assert build.ensure_rpc(env={}, run=pip, say=lambda _t: None).rpc
    assert pip.commands == ["probe", "cache", "wheel", "install", "probe"]


def test_a_failed_compile_and_a_build_still_without_rpc_are_errors(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"compiling llama-cpp-python 0\.3\.36 failed"):
        build.ensure_rpc(env={}, run=ScriptedPip(tmp_path, compile_fails=True),
                         say=lambda _t: None)
    assert not (tmp_path / build.CACHE_FOLDER).exists() or not list(
        (tmp_path / build.CACHE_FOLDER).glob("*/*.whl"))
    with pytest.raises(BuildError, match="still has no RPC"):
        build.ensure_rpc(env={}, run=ScriptedPip(tmp_path, builds_with_rpc=False),
                         say=lambda _t: None)
    # The useless wheel is not kept for the next install.
    assert not list((tmp_path / build.CACHE_FOLDER).glob("*/*.whl"))
