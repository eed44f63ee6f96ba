"""What the installed llama.cpp was built with, and rebuilding it with RPC when it lacks it.

PyPI carries llama-cpp-python only as source; pip compiles llama.cpp (about 10 minutes on two
cores) and caches the wheel under the source file's name, not the build options.  So after one
plain build, `CMAKE_ARGS="-DGGML_RPC=on" pip install llama-cpp-python` silently reinstalls the
cached build without RPC, and the app cannot split a model over workers.  `ensure_rpc` checks
the installed build in a child process and, when RPC is missing, installs a build that has it:
from a cache of ours keyed by the version, the options and the interpreter, else compiled once
(`pip wheel --no-cache-dir`) and kept there, so the next fresh install takes seconds.

Everything runs the given interpreter in child processes: the build is judged by a process that
imports the library fresh, never by this one, which may hold the old library open.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: The distribution whose build this module checks.
DISTRIBUTION = "llama-cpp-python"
#: The folder, inside pip's cache folder, that keeps the builds made here.
CACHE_FOLDER = "chatapp-llama-builds"

#: Runs in a fresh interpreter and prints what its llama.cpp was built with, as one JSON line.
_PROBE = """
import json, importlib.metadata
import llama_cpp
from chatapp.engine.runtime import gpu_backends
print(json.dumps({"version": importlib.metadata.version("llama-cpp-python"),
                  "rpc": bool(llama_cpp.llama_supports_rpc()),
                  "gpu_backends": gpu_backends()}))
"""

#: CMake options that bring back a GPU backend the current build has (Metal is on by default
#: on macOS and needs none).
_BACKEND_OPTIONS = {"CUDA": "GGML_CUDA", "Vulkan": "GGML_VULKAN", "HIP": "GGML_HIP",
                    "SYCL": "GGML_SYCL", "MUSA": "GGML_MUSA"}

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


class BuildError(Exception):
    """The build could not be checked, built or installed; str() says what happened."""


@dataclass(frozen=True)
class BuildFacts:
    """What one interpreter's llama-cpp-python was built with."""

    version: str
    rpc: bool
    gpu_backends: tuple[str, ...]


def _call(run: Runner, cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """`run(cmd, text=True, **kw)`; an interpreter that cannot be started, or a child that
    hangs past its timeout, is a BuildError like any other failure."""
    try:
        return run(cmd, text=True, **kw)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"could not run {cmd[0]} {' '.join(cmd[1:3])}: {exc}") from None


def probe(python: str = sys.executable, run: Runner = subprocess.run) -> BuildFacts:
    """The build that `python` imports, read in a child process (BuildError if it cannot)."""
    done = _call(run, [python, "-c", _PROBE], capture_output=True, timeout=300)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BuildError(f"could not import llama-cpp-python with {python}: "
                         + (" ".join(tail) or f"exit status {done.returncode}"))
    try:
        facts = json.loads(lines[-1])
        return BuildFacts(str(facts["version"]), bool(facts["rpc"]),
                          tuple(str(b) for b in facts["gpu_backends"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"the build check printed something unexpected: {lines[-1]!r}") from exc


def rpc_cmake_args(facts: BuildFacts, user_args: str = "") -> list[str]:
    """CMake options for a build with RPC that keeps what the current build has.

    The user's own CMAKE_ARGS come first and win; RPC is added, and so is each GPU backend the
    current build has (a rebuild must not silently drop CUDA for RPC).
    """
    args = shlex.split(user_args)
    # "-DNAME=value" or "-DNAME:TYPE=value"
    named = {a.split("=", 1)[0].split(":", 1)[0].removeprefix("-D") for a in args
             if a.startswith("-D")}
    wanted = ["GGML_RPC"] + [option for backend, option in _BACKEND_OPTIONS.items()
                             if backend in facts.gpu_backends]
    return args + [f"-D{option}=on" for option in wanted if option not in named]


def cache_key(version: str, cmake_args: Sequence[str], python_tag: str, platform: str) -> str:
    """The cache folder name for one build: the same inputs give the same wheel."""
    text = json.dumps([DISTRIBUTION, version, list(cmake_args), python_tag, platform])
    return f"{version}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def pip_cache_dir(python: str = sys.executable, run: Runner = subprocess.run) -> Path | None:
    """pip's cache folder for `python`; None when pip's cache is off (PIP_NO_CACHE_DIR...)."""
    done = _call(run, [python, "-m", "pip", "cache", "dir"], capture_output=True, timeout=120)
    text = done.stdout.strip()
    return Path(text) if done.returncode == 0 and text else None


def ensure_rpc(python: str = sys.executable, env: Mapping[str, str] | None = None,
               run: Runner = subprocess.run, say: Callable[[str], None] = print) -> BuildFacts:
    """Make `python`'s llama-cpp-python a build with RPC; returns the installed build's facts.

    Nothing happens when it already has RPC.  Otherwise the wheel comes from our cache in pip's
    cache folder, or is compiled (CMAKE_ARGS from `env` plus what `rpc_cmake_args` adds) and
    cached; it is installed with --force-reinstall --no-deps, and the result is checked again
    in a new process.  Raises BuildError when any step fails.
    """
    env = dict(os.environ if env is None else env)
    facts = probe(python, run)
    if facts.rpc:
        say(f"llama-cpp-python {facts.version} has RPC; nothing to do.")
        return facts
    args = rpc_cmake_args(facts, env.get("CMAKE_ARGS", ""))
    tag = _python_tag(python, run)
    cache_root = pip_cache_dir(python, run)
    folder = (cache_root / CACHE_FOLDER / cache_key(facts.version, args, *tag)
              if cache_root else None)
    wheel = _cached_wheel(folder)
    with tempfile.TemporaryDirectory(prefix="chatapp-llama-build-") as scratch:
        if wheel is None:
            wheel = _build(python, facts.version, args, env, Path(scratch), run, say)
            wheel = _keep(wheel, folder, say)
        else:
            say(f"Installing llama-cpp-python {facts.version} with RPC from {wheel}.")
        done = _call(run, [python, "-m", "pip", "install", "--force-reinstall", "--no-deps",
                           str(wheel)], env=env)
        if done.returncode != 0:
            raise BuildError(f"pip could not install {wheel} (exit status {done.returncode})")
    after = probe(python, run)
    if not after.rpc:
        if folder is not None:  # a cached wheel that lacks RPC must not be offered again
            shutil.rmtree(folder, ignore_errors=True)
        raise BuildError(f"llama-cpp-python {after.version} still has no RPC after the rebuild "
                         f"with CMAKE_ARGS={shlex.join(args)}")
    say(f"llama-cpp-python {after.version} now has RPC.")
    return after


def _python_tag(python: str, run: Runner) -> tuple[str, str]:
    """The interpreter's ABI tag and platform, which a compiled wheel is bound to."""
    if python == sys.executable:
        return sys.implementation.cache_tag or "", sysconfig.get_platform()
    done = _call(run, [python, "-c", "import sys, sysconfig; "
                       "print(sys.implementation.cache_tag); print(sysconfig.get_platform())"],
                 capture_output=True, timeout=120)
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        raise BuildError(f"could not ask {python} for its version and platform")
    return lines[0], lines[1]


def _cached_wheel(folder: Path | None) -> Path | None:
    if folder is None or not folder.is_dir():
        return None
    wheels = sorted(folder.glob("*.whl"))
    return wheels[0] if wheels else None


def _build(python: str, version: str, args: list[str], env: dict[str, str], out: Path,
           run: Runner, say: Callable[[str], None]) -> Path:
    say(f"Compiling llama-cpp-python {version} with CMAKE_ARGS={shlex.join(args)} "
        "(about 10 minutes on two cores; once per machine)...")
    # --no-cache-dir: pip's cache would hand back the build without RPC.  --no-binary: an extra
    # index with prebuilt wheels (without RPC) must not be taken instead of the source.
    done = _call(run, [python, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                       "--no-binary", DISTRIBUTION, "--wheel-dir", str(out),
                       f"{DISTRIBUTION}=={version}"],
                 env=dict(env, CMAKE_ARGS=shlex.join(args)))
    wheels = sorted(out.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise BuildError(f"compiling llama-cpp-python {version} failed (exit status "
                         f"{done.returncode}); pip's output above says why")
    return wheels[0]


def _keep(wheel: Path, folder: Path | None, say: Callable[[str], None]) -> Path:
    """Move the new wheel into the cache (atomically: a half-copied wheel is never offered);
    the wheel where it is when the cache cannot take it."""
    if folder is None:
        return wheel
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=folder.parent))
        shutil.copy2(wheel, staging / wheel.name)
        try:
            os.replace(staging, folder)
        except OSError:  # another install cached the same build first: use ours, drop the copy
            shutil.rmtree(staging, ignore_errors=True)
            return wheel
        return folder / wheel.name
    except OSError as exc:
        say(f"Note: could not keep the build in {folder} ({exc.strerror or exc}); "
            "the next install compiles it again.")
        return wheel
