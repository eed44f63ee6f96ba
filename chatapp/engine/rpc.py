"""Several machines, one model: llama.cpp's own RPC backend, driven through ctypes.

chatapp does not invent a cluster.  A *worker* is llama.cpp's RPC server
(`ggml_backend_rpc_start_server`, in libggml-rpc, which llama-cpp-python builds with
``CMAKE_ARGS="-DGGML_RPC=on"``; it ships no `rpc-server` program, so `serve` calls the function
in this process).  The model process adds workers with `ggml_backend_rpc_add_server` and hands
their devices to llama.cpp in `llama_model_params.devices`; llama.cpp then puts whole layers on
them and sends each one its part of every computation.

What llama.cpp does, and what this module does about it (llama.cpp of llama-cpp-python 0.3.36,
RPC protocol 7.0.0; read in ggml-rpc.cpp and llama-model.cpp):

- The protocol has no authentication and no encryption: anyone who can reach a worker's port can
  make it allocate memory and compute.  `serve` binds to 127.0.0.1 unless told otherwise and
  warns in words when it is told otherwise.
- A client that cannot connect to a worker, or whose worker stops answering, does not get an
  error: llama.cpp calls abort() ("Failed to connect to ...", "Remote RPC server crashed or
  returned malformed response").  So nothing here lets llama.cpp touch a worker before a probe
  in plain Python (`probe_worker`: TCP connect, the protocol's HELLO, its device count and
  memory) has shown that it answers; and a worker that dies mid-reply takes the model process
  down with SIGABRT, which the app reports (chatapp.engine.client.describe_exit).
- A worker serves one client at a time (its accept loop serves each connection to the end);
  another client's connection waits in the listen queue without an answer.  A probe that gets
  no HELLO answer therefore says the worker is busy.
- The workers are *not* registered with `ggml_backend_register`: llama.cpp does not need it
  when the devices are given explicitly, and a registered worker would join llama.cpp's default
  device selection for every later load in the process (RPC devices first), so a "local" load
  would quietly run on the workers, and the local device list would show them.
- Devices of a load, in order: the workers' devices (in the order the endpoints were given, each
  worker's devices in its order), then this machine's GPUs (discrete ones; integrated ones only
  when there is no discrete one, as llama.cpp's own selection does).  This machine's CPU is not
  in the list: with workers, every layer goes to the list (the CPU keeps only the token
  embeddings, llama.cpp's "input layer", and does the sampling).  A split is one proportion per
  device of that list; "auto" leaves llama.cpp's tensor_split all zero, which llama.cpp reads
  as "by each device's free memory" (llama_model_base::load_tensors; a CPU worker reports all
  of its RAM as free, so two CPU workers split by RAM size).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

#: The port llama.cpp's rpc-server listens on by default.
DEFAULT_PORT = 50052
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
#: The RPC protocol of the llama.cpp in llama-cpp-python 0.3.36 (ggml-rpc.h): a worker with
#: another major version, or a newer minor one, is refused by llama.cpp (by aborting).
PROTOCOL_MAJOR, PROTOCOL_MINOR = 7, 0
#: GGML_RPC_MAX_SERVERS (ggml-rpc.h).
MAX_WORKERS = 16
#: Seconds a probe waits to connect, and then for each answer.
PROBE_TIMEOUT = 5.0

#: One way to get RPC (chatapp.engine.build): it also keeps a GPU backend and dodges pip's cache.
NO_RPC_MESSAGE = (
    "This llama.cpp was built without RPC; run `chatapp engine --ensure-rpc`, which rebuilds "
    'llama-cpp-python with CMAKE_ARGS="-DGGML_RPC=on" and keeps its GPU backend.'
)

# Wire format (ggml-rpc.cpp): a command byte, a uint64 request size, the request; the answer is
# a uint64 size and the answer's bytes.  Numbers are in the sender's native byte order (both
# ends must share it; "=" below is native order with standard sizes).
_CMD_GET_DEVICE_MEMORY = 11
_CMD_HELLO = 14
_CMD_DEVICE_COUNT = 15
_CONN_CAPS_SIZE = 24  # RPC_CONN_CAPS_SIZE (transport.h): all zero = plain TCP, no RDMA
_HELLO_ANSWER = struct.Struct("=BBBB24s")  # major, minor, patch, padding, conn_caps
_DEVICE_MEMORY = struct.Struct("=QQ")  # free, total


class RpcError(Exception):
    """A worker cannot be used, or this build cannot use workers; str() says what to do."""


class WorkerBusyError(RpcError):
    """The worker accepted the connection but does not answer: it serves another client."""


class SplitError(ValueError):
    """A split that does not match the devices of a load."""


# -- endpoints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A worker's address as "host:port" (IPv4 only: llama.cpp's RPC transport is AF_INET)."""

    host: str
    port: int

    def __str__(self) -> str:
        """The form llama.cpp takes: "host:port"."""
        return f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """"host:port" as an Endpoint; RpcError in words when it is not one."""
    value = text.strip()
    if value.startswith("[") or value.count(":") > 1:
        raise RpcError(f"{value!r}: llama.cpp's RPC workers use IPv4 addresses only "
                       "(write HOST:PORT, e.g. 192.168.1.20:50052).")
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RpcError(f"{value!r} is not a worker address: write HOST:PORT, e.g. "
                       f"192.168.1.20:{DEFAULT_PORT}.")
    return Endpoint(host.lower(), int(port_text))


def parse_endpoints(endpoints: str | Iterable[str]) -> list[str]:
    """Endpoints from "a:1,b:2" or a list, checked and normalised ("host:port", host in lower
    case); RpcError for a bad one, too many, or one worker named twice."""
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    parsed = [parse_endpoint(item) for item in items if item.strip()]
    if not parsed:
        raise RpcError("No worker address given: write HOST:PORT[,HOST:PORT...].")
    if len(parsed) > MAX_WORKERS:
        raise RpcError(f"llama.cpp can use at most {MAX_WORKERS} workers; "
                       f"{len(parsed)} were given.")
    seen: dict[str, Endpoint] = {}
    for ep in parsed:
        # The same worker twice (also under two names) would be two connections to a server
        # that serves one at a time: the second would wait for ever.
        key = f"{_resolve(ep.host, quiet=True)}:{ep.port}"
        if key in seen:
            raise RpcError(f"{ep} and {seen[key]} are the same worker; list each worker once.")
        seen[key] = ep
    return [str(ep) for ep in parsed]


def _resolve(host: str, *, quiet: bool = False) -> str:
    """The IPv4 address of `host` (the host itself when `quiet` and it cannot be resolved)."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        if quiet:
            return host
        raise RpcError(f"Cannot find the computer {host!r} (no IPv4 address for that name): "
                       "check the name, or give its IP address.") from None
    return str(infos[0][4][0])


def is_loopback(host: str) -> bool:
    """True when `host` is this machine only (127.x.x.x, "localhost")."""
    try:
        return ipaddress.IPv4Address(_resolve(host, quiet=True)).is_loopback
    except ValueError:
        return False


# -- probing a worker in plain Python ----------------------------------------------------------


@dataclass
class WorkerProbe:
    """What a worker answered: its protocol version and each device's memory.

    Attributes:
        endpoint: "host:port" as given.
        version: the worker's RPC protocol (major, minor, patch).
        devices: [{"index": INT, "name": "device N", "description": the endpoint,
            "memory_free": INT, "memory_total": INT}] in bytes, as the worker's ggml reports
            them (a CPU device calls all of its RAM free; the protocol does not say which
            device it is).
    """

    endpoint: str
    version: tuple[int, int, int]
    devices: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The probe as the `workers` event carries it."""
        return {"endpoint": self.endpoint, "ok": True, "error": None,
                "protocol": ".".join(map(str, self.version)), "devices": list(self.devices)}


def probe_worker(endpoint: str, timeout: float = PROBE_TIMEOUT) -> WorkerProbe:
    """Ask the worker at `endpoint` what it serves, the way llama.cpp would, without llama.cpp.

    Raises RpcError with the reason in words: nothing listens there, the machine does not
    answer, it is busy with another client, it is not a llama.cpp RPC server, or it speaks
    another version of the protocol.
    """
    ep = parse_endpoint(endpoint)
    address = _resolve(ep.host)
    try:
        sock = socket.create_connection((address, ep.port), timeout=timeout)
    except ConnectionRefusedError:
        raise RpcError(f"No worker answers at {ep} (connection refused): start one there with "
                       f"`chatapp worker --listen {ep}`, or check the address.") from None
    except TimeoutError:
        raise RpcError(f"The computer at {ep} did not answer within {timeout:.0f} s: is it on, "
                       f"and is port {ep.port} open in its firewall?") from None
    except OSError as exc:
        raise RpcError(f"Cannot connect to the worker at {ep}: {_os_reason(exc)}.") from None
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            answer = _request(sock, _CMD_HELLO, bytes(_CONN_CAPS_SIZE), _HELLO_ANSWER.size)
        except TimeoutError:
            raise WorkerBusyError(
                f"The worker at {ep} accepted the connection but did not answer within "
                f"{timeout:.0f} s: it is busy with another client (a worker serves one at a "
                "time); stop that client, or start another worker on another port.") from None
        except (EOFError, OSError, ValueError):
            raise RpcError(f"The program at {ep} is not a llama.cpp RPC worker, or it speaks "
                           "another version (it closed the connection at the handshake): "
                           "run `chatapp worker` there with the same chatapp and "
                           "llama-cpp-python versions as here.") from None
        major, minor, patch, _pad, _caps = _HELLO_ANSWER.unpack(answer)
        if major != PROTOCOL_MAJOR or minor > PROTOCOL_MINOR:
            raise RpcError(f"The worker at {ep} speaks RPC protocol {major}.{minor}.{patch}; "
                           f"this chatapp needs {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}.x: install "
                           "the same llama-cpp-python version (0.3.36) on both computers.")
        try:
            (count,) = struct.unpack("=I", _request(sock, _CMD_DEVICE_COUNT, b"", 4))
            devices = []
            for index in range(count):
                free, total = _DEVICE_MEMORY.unpack(_request(
                    sock, _CMD_GET_DEVICE_MEMORY, struct.pack("=I", index), _DEVICE_MEMORY.size))
                # The protocol names no device: these are the names a probe can give (llama.cpp
                # describes an RPC device by its endpoint too).
                devices.append({"index": index, "name": f"device {index}",
                                "description": str(ep), "memory_free": free,
                                "memory_total": total})
        except (EOFError, OSError, ValueError):
            raise RpcError(f"The worker at {ep} stopped answering while it was asked about its "
                           "devices: try again, and look at its window for errors.") from None
    if not devices:
        raise RpcError(f"The worker at {ep} serves no device: restart it with --device.")
    return WorkerProbe(str(ep), (major, minor, patch), devices)


def probe_workers(endpoints: Iterable[str], timeout: float = PROBE_TIMEOUT) -> list[dict[str, Any]]:
    """Probe each endpoint; never raises: a worker that cannot be used says why in "error"."""
    found: list[dict[str, Any]] = []
    for endpoint in endpoints:
        try:
            found.append(probe_worker(endpoint, timeout).to_dict())
        except RpcError as exc:
            found.append({"endpoint": endpoint.strip(), "ok": False, "error": str(exc),
                          "protocol": None, "devices": []})
    return found


def gone(endpoint: str, timeout: float = 1.0) -> bool:
    """Whether the worker at `endpoint` is certainly gone: nothing listens on its port any more
    (connection refused), or its machine is unreachable.

    A TCP connect only: unlike a probe, it works while the worker is busy serving this very
    process.  A connect that merely times out proves nothing (the worker's listen queue is one
    connection long, and full when other programs wait on a busy worker): not gone.
    """
    try:
        ep = parse_endpoint(endpoint)
        with socket.create_connection((_resolve(ep.host), ep.port), timeout=timeout):
            return False
    except (ConnectionRefusedError, RpcError):
        return True
    except OSError as exc:
        return exc.errno in _UNREACHABLE


#: errno values that say a machine cannot be reached (not merely slow to answer).
_UNREACHABLE = frozenset(
    getattr(errno, name) for name in ("EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN")
    if hasattr(errno, name))


def _request(sock: socket.socket, cmd: int, payload: bytes, answer_size: int) -> bytes:
    sock.sendall(bytes([cmd]) + struct.pack("=Q", len(payload)) + payload)
    (size,) = struct.unpack("=Q", _recv_exact(sock, 8))
    if size != answer_size:
        raise ValueError(f"answer of {size} bytes, expected {answer_size}")
    return _recv_exact(sock, size)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).rstrip(".").lower()


# -- llama.cpp's functions ----------------------------------------------------------------------


class _Api:
    """The ggml functions this module calls, declared from ggml-rpc.h and ggml-backend.h.

    Own handles on the libraries (never llama-cpp-python's function objects, whose argtypes
    it owns): libggml-rpc for the RPC functions, libllama for the device API (its dependencies,
    libggml and libggml-base, export them; dlsym searches them).
    """

    def __init__(self) -> None:
        """Open the libraries; RpcError when this build has no RPC."""
        import llama_cpp

        libllama = getattr(getattr(llama_cpp.llama_cpp, "_lib", None), "_name", None)
        if not isinstance(libllama, str):
            raise RpcError("llama-cpp-python does not say where its libraries are, so its "
                           "RPC functions cannot be found.")
        if not llama_cpp.llama_supports_rpc():
            raise RpcError(NO_RPC_MESSAGE)
        folder = os.path.dirname(libllama)
        names = ("libggml-rpc.so", "libggml-rpc.dylib", "ggml-rpc.dll")
        rpc_lib = None
        for path in [os.path.join(folder, n) for n in names] + [libllama]:
            with contextlib.suppress(OSError):
                lib = ctypes.CDLL(path)
                if hasattr(lib, "ggml_backend_rpc_add_server"):
                    rpc_lib = lib
                    break
        if rpc_lib is None:
            raise RpcError(NO_RPC_MESSAGE)
        ggml = ctypes.CDLL(libllama)
        vp, text, size = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
        size_p = ctypes.POINTER(ctypes.c_size_t)
        # ggml-rpc.h
        self.add_server = _fn(rpc_lib, "ggml_backend_rpc_add_server", [text], vp)
        self.start_server = _fn(rpc_lib, "ggml_backend_rpc_start_server",
                                [text, text, size, size, ctypes.POINTER(vp)], None)
        # ggml-backend.h
        self.reg_dev_count = _fn(ggml, "ggml_backend_reg_dev_count", [vp], size)
        self.reg_dev_get = _fn(ggml, "ggml_backend_reg_dev_get", [vp, size], vp)
        self.dev_count = _fn(ggml, "ggml_backend_dev_count", [], size)
        self.dev_get = _fn(ggml, "ggml_backend_dev_get", [size], vp)
        self.dev_name = _fn(ggml, "ggml_backend_dev_name", [vp], text)
        self.dev_description = _fn(ggml, "ggml_backend_dev_description", [vp], text)
        self.dev_memory = _fn(ggml, "ggml_backend_dev_memory", [vp, size_p, size_p], None)
        self.dev_type = _fn(ggml, "ggml_backend_dev_type", [vp], ctypes.c_int)
        self.dev_backend_reg = _fn(ggml, "ggml_backend_dev_backend_reg", [vp], vp)
        self.reg_name = _fn(ggml, "ggml_backend_reg_name", [vp], text)

    def describe(self, dev: int) -> dict[str, Any]:
        """A device's name, description, type and memory (bytes; None when it reports 0)."""
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        self.dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        reg = self.dev_backend_reg(dev)
        kind = int(self.dev_type(dev))
        return {"name": _text(self.dev_name(dev)), "description": _text(self.dev_description(dev)),
                "type": _DEVICE_TYPES.get(kind, f"type {kind}"),
                "backend": _text(self.reg_name(reg)) if reg else "",
                "memory_free": int(free.value) or None, "memory_total": int(total.value) or None,
                "handle": int(dev)}

    def local_devices(self) -> list[dict[str, Any]]:
        """This machine's devices, in ggml's order (RPC devices are never in it: see above)."""
        found = []
        for i in range(int(self.dev_count())):
            dev = self.dev_get(i)
            if dev:
                found.append(self.describe(dev))
        return [d for d in found if d["backend"] != "RPC"]


#: enum ggml_backend_dev_type (ggml-backend.h).
_DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "iGPU", 3: "accelerator", 4: "meta"}
_api_lock = threading.Lock()
_api_instance: list[_Api] = []


def _api() -> _Api:
    with _api_lock:
        if not _api_instance:
            _api_instance.append(_Api())
        return _api_instance[0]


def _fn(lib: Any, name: str, argtypes: list[Any], restype: Any) -> Any:
    try:
        fn = getattr(lib, name)
    except AttributeError:
        raise RpcError(f"This llama.cpp lacks {name}: {NO_RPC_MESSAGE}") from None
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def rpc_supported() -> bool:
    """Whether this llama.cpp can use and be a worker (built with -DGGML_RPC=on).

    `llama_cpp.llama_supports_rpc()` says whether the RPC backend is compiled in; the library
    must also be found and declare the functions used here.
    """
    try:
        import llama_cpp

        if not llama_cpp.llama_supports_rpc():
            return False
        _api()
    except (ImportError, OSError, RpcError):
        return False
    return True


# -- using workers (in the model process) -------------------------------------------------------

_added_lock = threading.Lock()
#: endpoint -> the number of devices llama.cpp registered for it (llama.cpp keeps each
#: endpoint's device list for the life of the process).
_added: dict[str, int] = {}


def add_workers(endpoints: Iterable[str], timeout: float = PROBE_TIMEOUT) -> list[dict[str, Any]]:
    """Make the workers' devices available to llama.cpp; returns them, in device-list order.

    Every worker is probed first (RpcError if one cannot be used, before llama.cpp connects to
    any: it would abort).  Each endpoint is added to llama.cpp once per process
    (`ggml_backend_rpc_add_server` keeps it); its devices are then read through ggml's device
    API: {"name" ("RPC0", numbered across the process), "description" (the endpoint),
    "endpoint", "index" (the device's number on its worker), "type": "RPC", "memory_free",
    "memory_total", "handle" (the ggml_backend_dev_t)}.
    """
    api = _api()
    names = parse_endpoints(list(endpoints))
    probes = [probe_worker(name, timeout) for name in names]
    found: list[dict[str, Any]] = []
    with _added_lock:
        for name, probe in zip(names, probes, strict=True):
            known = _added.get(name)
            if known is not None and known != len(probe.devices):
                raise RpcError(f"The worker at {name} now serves {len(probe.devices)} devices, "
                               f"{known} when this model process first used it: restart "
                               "chatapp to use it as it is now.")
            reg = api.add_server(name.encode("utf-8"))
            if not reg:
                raise RpcError(f"The worker at {name} serves no device: restart it with "
                               "--device.")
            count = int(api.reg_dev_count(reg))
            _added[name] = count
            for index in range(count):
                dev = api.describe(api.reg_dev_get(reg, index))
                found.append(dev | {"endpoint": name, "index": index, "type": "RPC"})
    return found


def local_gpus() -> list[dict[str, Any]]:
    """This machine's GPUs that a load with workers adds after them: the discrete GPUs, or the
    integrated ones of the first backend that has some when there is no discrete GPU (llama.cpp's
    own default selection)."""
    devices = _api().local_devices()
    gpus = [d for d in devices if d["type"] == "GPU"]
    if gpus:
        return gpus
    igpus = [d for d in devices if d["type"] == "iGPU"]
    return [d for d in igpus if d["backend"] == igpus[0]["backend"]] if igpus else []


def device_array(handles: Sequence[int]) -> Any:
    """The NULL-terminated ggml_backend_dev_t array for `llama_model_params.devices` (keep it
    alive while the model loads)."""
    return (ctypes.c_void_p * (len(handles) + 1))(*handles, None)


def check_split(proportions: Sequence[float], devices: Sequence[dict[str, Any]]) -> list[float]:
    """The split as floats, one per device of the load; SplitError in words otherwise."""
    values = [float(p) for p in proportions]
    if len(values) != len(devices):
        names = ", ".join(_device_label(d) for d in devices)
        raise SplitError(f"The split gives {_count(len(values), 'proportion')} but the model "
                         f"is split over {_count(len(devices), 'device')} ({names}): give one "
                         "per device, in that order, or \"auto\".")
    if any(v != v or v in (float("inf"), float("-inf")) or v < 0 for v in values) \
            or sum(values) <= 0:
        raise SplitError("The split's proportions must be numbers of 0 or more, and not all 0 "
                         "(e.g. 1,3 puts a quarter of the layers on the first device).")
    return values


def tensor_split_array(proportions: Sequence[float], max_devices: int) -> Any:
    """`llama_model_params.tensor_split`: llama.cpp copies llama_max_devices() floats from it."""
    if len(proportions) > max_devices:
        raise SplitError(f"llama.cpp can split a model over at most {max_devices} devices.")
    return (ctypes.c_float * max_devices)(*proportions)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _device_label(dev: dict[str, Any]) -> str:
    return f"{dev['name']} on {dev['endpoint']}" if dev.get("endpoint") else str(dev["name"])


def split_layers(proportions: Sequence[float], n_layer: int) -> list[list[int]]:
    """The layers llama.cpp gives each device when every layer goes to the device list: for
    each device, the indices it gets out of 0..n_layer (n_layer is the output layer).

    llama_model_base::load_tensors: the proportions are summed into cumulative split points
    normalised to 1 (float32), and layer il goes to the first device whose point is above
    il / (n_layer + 1).  With "auto" the proportions are the devices' free memory.
    """
    import numpy as np

    points = np.cumsum(np.asarray(proportions, dtype=np.float32), dtype=np.float32)
    points = (points / points[-1]).astype(np.float32)
    layers: list[list[int]] = [[] for _ in proportions]
    for il in range(n_layer + 1):
        at = np.float32(il) / np.float32(n_layer + 1)
        device = int(np.searchsorted(points, at, side="right"))
        layers[min(device, len(layers) - 1)].append(il)
    return layers


# -- which layers landed where: llama.cpp's own load log -----------------------------------------

#: "load_tensors: layer  15 assigned to device RPC0, is_swa = 0" (DEBUG level).
_LAYER_LINE = re.compile(r"layer\s+(\d+) assigned to device ([^,\s]+)")
#: "load_tensors: RPC0[127.0.0.1:50052] model buffer size =    33.82 MiB" (also KV, compute).
_BUFFER_LINE = re.compile(
    r"^\w+:\s+(\S+)\s+(model|KV|compute|output) buffer size =\s+([\d.]+) MiB")
#: Lines worth keeping from a load's log (bytes: checked in llama.cpp's log callback).
LOG_MARKERS = (b"assigned to device", b"buffer size =")


def placement(
    log_lines: Sequence[str], devices: Sequence[dict[str, Any]], n_layer: int,
    cpu: dict[str, Any] | None = None, computed: Sequence[Sequence[int]] | None = None,
) -> list[dict[str, Any]]:
    """Where a loaded model's layers and buffers are, per device ("devices_used").

    From llama.cpp's load log (`log_lines`: the lines with LOG_MARKERS): its "layer N assigned
    to device X" lines and its buffer sizes ("RPC0[127.0.0.1:50052] model buffer size = 33.82
    MiB": RPC buffers are named by the device's number on its worker and the endpoint).
    `devices`: the load's device list (add_workers / local GPUs dicts); `cpu`: this machine's
    CPU (it holds the input layer, and any layer not offloaded).  `computed`: split_layers'
    answer, used only when the log names no layer at all (a llama.cpp whose wording changed).

    Each entry: {"name", "description", "endpoint" (None on this machine), "type",
    "memory_free", "memory_total", "layers": [first, last] of its repeating layers or None,
    "n_layers", "output_layer" (bool), "input_layer" (bool), "weights_bytes", "kv_bytes",
    "compute_bytes" (bytes, from llama.cpp's MiB with two decimals; None when not logged),
    "layers_from": "llama.cpp" | "computed"}.
    """
    entries = [dict(d) for d in devices]
    if cpu is not None:
        entries.append(dict(cpu))
    assigned: dict[str, list[int]] = {}
    sizes: dict[tuple[int, str], float] = {}
    for line in log_lines:
        found = _LAYER_LINE.search(line)
        if found:
            assigned.setdefault(found.group(2), []).append(int(found.group(1)))
            continue
        found = _BUFFER_LINE.search(line.strip())
        if found:
            owner = _buffer_owner(found.group(1), entries, cpu)
            if owner is not None:
                key = (owner, found.group(2))
                sizes[key] = sizes.get(key, 0.0) + float(found.group(3))
    used = []
    for i, entry in enumerate(entries):
        layers = sorted(set(assigned.get(entry["name"], [])))
        source = "llama.cpp"
        if not assigned and computed is not None and i < len(computed):
            layers, source = list(computed[i]), "computed"
        repeating = [il for il in layers if il < n_layer]
        is_cpu = cpu is not None and i == len(entries) - 1
        used.append({
            "name": entry["name"], "description": entry.get("description", ""),
            "endpoint": entry.get("endpoint"), "type": entry.get("type"),
            "memory_free": entry.get("memory_free"), "memory_total": entry.get("memory_total"),
            "layers": [repeating[0], repeating[-1]] if repeating else None,
            "n_layers": len(repeating), "output_layer": n_layer in layers,
            "input_layer": is_cpu,
            "weights_bytes": _mib(sizes.get((i, "model"))),
            "kv_bytes": _mib(sizes.get((i, "KV"))),
            "compute_bytes": _mib(sizes.get((i, "compute"))),
            "layers_from": source,
        })
    return used


def _buffer_owner(buffer: str, entries: Sequence[dict[str, Any]],
                  cpu: dict[str, Any] | None) -> int | None:
    """The index in `entries` of the device a llama.cpp buffer lives on."""
    rpc = re.fullmatch(r"RPC(\d+)\[(.+)\]", buffer)
    for i, entry in enumerate(entries):
        if rpc is not None:
            if entry.get("endpoint") == rpc.group(2) and entry.get("index") == int(rpc.group(1)):
                return i
        elif buffer == entry["name"] and not (cpu is not None and i == len(entries) - 1):
            return i
    if rpc is None and cpu is not None and (buffer.startswith("CPU") or "_Host" in buffer):
        return len(entries) - 1  # CPU, CPU_Mapped, CPU_REPACK, CUDA_Host ...: host memory
    return None


def _mib(value: float | None) -> int | None:
    return None if value is None else round(value * 1024 * 1024)


# -- serving this machine (chatapp worker) ------------------------------------------------------


def default_threads() -> int:
    """Threads for a CPU worker: half the cores (llama.cpp's rpc-server default)."""
    return max(1, (os.cpu_count() or 2) // 2)


def serving_devices(device_names: Sequence[str] | None) -> list[dict[str, Any]]:
    """The devices a worker serves: the ones named (case does not matter), else every GPU
    of this machine, else its CPU (llama.cpp's rpc-server does the same)."""
    devices = _api().local_devices()
    if device_names:
        chosen = []
        for wanted in device_names:
            match = next((d for d in devices if d["name"].lower() == wanted.strip().lower()),
                         None)
            if match is None:
                have = ", ".join(f"{d['name']} ({d['description']})" for d in devices)
                raise RpcError(f"This computer has no device called {wanted!r}; it has: {have}.")
            if match not in chosen:
                chosen.append(match)
        return chosen
    gpus = [d for d in devices if d["type"] not in ("CPU", "accelerator")]
    return gpus or [d for d in devices if d["type"] == "CPU"][:1]


def serve(
    endpoint: str,
    device_names: Sequence[str] | None,
    n_threads: int,
    cache_dir: Path | None,
    *,
    out: Callable[[str], None] | None = None,
) -> NoReturn:
    """Serve this machine's devices as a worker until Ctrl+C or SIGTERM; then exit 0.

    Prints what it serves (each device with its memory, the endpoint, the tensor cache), warns
    in words when it listens on more than this machine, then "Ready: ..." once a client on this
    machine has been answered (a probe of its own).  llama.cpp's own messages ("Accepted client
    connection" ...) go to stderr.  `cache_dir`: where llama.cpp keeps tensors it was sent
    (large ones are then sent as a hash next time); None: no cache.  Raises RpcError before
    serving (no RPC in this build, a bad address, an unknown device, a port in use).  The
    server runs in this process (no separate program: the packaged app has none).
    """
    say = out or _print
    api = _api()
    ep = parse_endpoint(endpoint)
    host = _resolve(ep.host)  # llama.cpp's server takes an IPv4 address, not a name
    listen = Endpoint(host, ep.port)
    devices = serving_devices(device_names)
    _check_port_free(listen)
    cache_text = None
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RpcError(f"Cannot create the tensor cache {cache_dir}: "
                           f"{_os_reason(exc)}.") from None
        cache_text = str(cache_dir)
    say(f"chatapp worker: lending {_count(len(devices), 'device')} of this computer to "
        "chatapp (llama.cpp RPC)")
    for dev in devices:
        say(f"  {dev['name']}: {dev['description']} - {_device_memory_text(dev)}"
            + (f", {_count(n_threads, 'thread')}" if dev["type"] == "CPU" else ""))
    say(f"  tensor cache: {cache_text or 'off'}")
    if is_loopback(host):
        say(f"  Only programs on this computer can use it ({listen}); to lend it to other "
            f"computers: --listen 0.0.0.0:{listen.port} (read the warning it prints).")
    else:
        _warn(f"WARNING: listening on {listen}: anyone who can reach port {listen.port} of this "
              "computer can use it through this worker, with no password and no encryption "
              "(llama.cpp's RPC protocol has neither), to fill its memory and run "
              "computations. Use it only on a network you trust, or behind a firewall that "
              "lets only your computers in.")
    _server_output_to_stderr()
    handles = (ctypes.c_void_p * len(devices))(*[d["handle"] for d in devices])
    finished = threading.Event()
    stop = _stop_on_signals()  # before the server starts: a Ctrl+C now must end cleanly too

    def run() -> None:
        try:
            api.start_server(str(listen).encode(), cache_text.encode() if cache_text else None,
                             n_threads, len(devices), handles)
        finally:
            finished.set()  # llama.cpp returns only when it could not listen

    threading.Thread(target=run, name="rpc-server", daemon=True).start()
    check = Endpoint("127.0.0.1" if host == "0.0.0.0" else host, listen.port)
    if _wait_until_serving(check, finished, stop):
        say(f"Ready: listening on {listen}. On the computer that runs the model: "
            f"chatapp chat --rpc {_advertised(listen)} ... (Ctrl+C stops this worker)")
        while not stop.is_set() and not finished.is_set():
            stop.wait(0.5)
    if finished.is_set() and not stop.is_set():
        _warn("chatapp worker: llama.cpp's server stopped (its message is above)")
        _exit(1)
    say("chatapp worker: stopped")
    _exit(0)


def _print(text: str) -> None:
    print(text, flush=True)


def _warn(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _device_memory_text(dev: dict[str, Any]) -> str:
    free, total = dev.get("memory_free"), dev.get("memory_total")
    if dev["type"] == "CPU":
        available = _available_memory()
        # ggml's CPU device calls all RAM free; what the kernel can hand out is the useful one.
        if available is not None and total:
            return f"{_gb(available)} of {_gb(total)} RAM available"
    if free is None or total is None:
        return "memory not reported"
    return f"{_gb(free)} free of {_gb(total)}"


def _available_memory() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _advertised(listen: Endpoint) -> str:
    """The address other computers reach this worker at, as far as this computer knows."""
    if listen.host != "0.0.0.0":
        return str(listen)
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        # Connecting a UDP socket sends nothing; it picks the interface of the default route.
        udp.connect(("10.255.255.255", 1))
        address = str(udp.getsockname()[0])
        if address != "0.0.0.0":
            return f"{address}:{listen.port}"
    return f"THIS-COMPUTER'S-ADDRESS:{listen.port}"


def _check_port_free(listen: Endpoint) -> None:
    """RpcError in words when the port is taken (llama.cpp would only say "Failed to create
    server socket")."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As llama.cpp binds: SO_REUSEADDR, which still fails on a port another socket listens on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((listen.host, listen.port))
    except OSError as exc:
        raise RpcError(f"Cannot listen on {listen}: {_os_reason(exc)} (another worker already "
                       f"there?); choose another port with --listen {listen.host}:PORT.") from None
    finally:
        probe.close()


def _server_output_to_stderr() -> None:
    """Send what C code prints on stdout (llama.cpp's server banner and connection notes) to
    stderr, so that stdout carries chatapp's lines only; Python's own stdout keeps the real one."""
    sys.stdout.flush()
    keep = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = open(keep, "w", buffering=1, encoding="utf-8", closefd=True)  # noqa: SIM115


def _wait_until_serving(check: Endpoint, finished: threading.Event,
                        stop: threading.Event) -> bool:
    """True once the server answers a probe (or is busy with a client that got in first);
    False when asked to stop meanwhile.  RpcError if llama.cpp gave up listening, or never
    started to."""
    deadline = time.monotonic() + 60
    while not finished.wait(0.05):
        if stop.is_set():
            return False
        try:
            probe_worker(str(check), timeout=5.0)
            return True
        except WorkerBusyError:
            return True
        except RpcError:
            if time.monotonic() > deadline:
                raise RpcError(f"llama.cpp's server did not start answering on {check} within "
                               "60 s: look for its messages above.") from None
        time.sleep(0.05)
    raise RpcError(f"llama.cpp could not listen on port {check.port} (its message is above): "
                   "choose another port with --listen.")


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl+C, SIGTERM or SIGHUP (where the platform has them)."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(ValueError, OSError):  # not the main thread, or Windows
                signal.signal(sig, on_signal)
    return stop


def _exit(code: int) -> NoReturn:
    """Leave now: llama.cpp's server thread cannot be stopped, and the interpreter's normal
    shutdown would tear its globals down under it."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
