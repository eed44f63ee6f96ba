"""An attention capture, read from the NPZ file the model process wrote (no Qt here).

The file holds ``tokens`` int32 (T,), ``attention`` float (L, H, T, T) with rows = query
positions, ``layers`` and ``heads`` (the captured indices).  ``attention`` can be large (1,000
tokens × 30 layers × 9 heads is about 1 GB in float32), so when the archive stores it
uncompressed it is memory-mapped in place: only the slices looked at are read from disk.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local file header (30 bytes)


class AttentionError(ValueError):
    """The capture cannot be shown; str() says why, in words."""


@dataclass(frozen=True)
class AttentionCapture:
    """One capture's arrays and what the event said about them.

    Attributes:
        path: the NPZ file.
        tokens: token ids, (T,).
        pieces: each token's text (untrusted), T of them.
        attention: (L, H, T, T) weights; a read-only memory map when the file allows it.
        layers: the model's layer number of each captured layer.
        heads: the model's head number of each captured head.
        n_layer, n_head: how many layers and heads the model has (captured or not).
        left_out: what the capture left out, in words (None: nothing).
        capture_ms: how long the capture took.
        mapped: True when ``attention`` is memory-mapped.
    """

    path: Path
    tokens: npt.NDArray[np.int32]
    pieces: list[str]
    attention: npt.NDArray[Any]
    layers: list[int]
    heads: list[int]
    n_layer: int
    n_head: int
    left_out: str | None
    capture_ms: float | None
    mapped: bool

    @property
    def n_tokens(self) -> int:
        """T."""
        return int(self.tokens.shape[0])

    @classmethod
    def load(cls, event: Mapping[str, Any]) -> AttentionCapture:
        """Open the capture an "attention" event describes; AttentionError if it is unusable."""
        raw_path = event.get("path")
        if not isinstance(raw_path, str) or not raw_path:
            raise AttentionError("the capture names no file")
        path = Path(raw_path)
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
            if "attention.npy" not in names:
                raise AttentionError(f"{path.name} holds no attention matrix")
            attention, mapped = _mapped_member(path, "attention")
            with np.load(path, allow_pickle=False) as npz:
                tokens = np.asarray(npz["tokens"], dtype=np.int32) if "tokens" in npz else None
                layers_arr = npz.get("layers")
                heads_arr = npz.get("heads")
                if attention is None:
                    attention = np.asarray(npz["attention"])
        except (OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
            if isinstance(exc, AttentionError):
                raise
            raise AttentionError(f"cannot read {path.name}: {exc}") from None
        if attention.ndim != 4 or attention.shape[2] != attention.shape[3]:
            raise AttentionError(f"the attention matrix has shape {attention.shape}, "
                                 "expected (layers, heads, tokens, tokens)")
        if attention.dtype.kind != "f":
            raise AttentionError(f"the attention matrix holds {attention.dtype}, not numbers")
        n_l, n_h, t = attention.shape[0], attention.shape[1], attention.shape[2]
        if tokens is None:
            tokens = np.asarray(event.get("tokens") or [0] * t, dtype=np.int32)
        if tokens.shape != (t,):
            raise AttentionError(f"{tokens.shape[0]} tokens for a {t} × {t} matrix")
        layers = _indices(layers_arr, event.get("layers"), n_l)
        heads = _indices(heads_arr, event.get("heads"), n_h)
        pieces = [str(p) for p in (event.get("pieces") or [])][:t]
        pieces += [f"#{int(tok)}" for tok in tokens[len(pieces):]]
        ms = event.get("capture_ms")
        left_out = event.get("left_out")
        return cls(
            path=path, tokens=tokens, pieces=pieces, attention=attention,
            layers=layers, heads=heads,
            n_layer=_int(event.get("n_layer"), max(layers, default=-1) + 1),
            n_head=_int(event.get("n_head"), max(heads, default=-1) + 1),
            left_out=str(left_out) if left_out else None,
            capture_ms=float(ms) if isinstance(ms, int | float) else None,
            mapped=mapped,
        )

    def matrix(self, layer: int, head: int | None) -> npt.NDArray[np.float32]:
        """The (T, T) weights of captured layer ``layer`` and head ``head`` (positions in
        `layers` and `heads`); ``head`` None: the mean over the captured heads."""
        if head is None:
            mean: npt.NDArray[np.float32] = np.asarray(
                self.attention[layer], dtype=np.float32).mean(axis=0, dtype=np.float32)
            return mean
        one: npt.NDArray[np.float32] = np.array(self.attention[layer, head], dtype=np.float32)
        return one

    def thumbnails(self, layer: int, size: int = 48) -> list[npt.NDArray[np.float32]]:
        """Each head of ``layer`` reduced to at most size × size (block means)."""
        return [shrink(np.asarray(self.attention[layer, h], dtype=np.float32), size)
                for h in range(self.attention.shape[1])]


def shrink(matrix: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """``matrix`` reduced to at most size × size by averaging blocks (as is when smaller)."""
    rows, cols = matrix.shape
    if rows <= size and cols <= size:
        return matrix
    r_edges = (np.arange(min(rows, size)) * rows) // min(rows, size)
    c_edges = (np.arange(min(cols, size)) * cols) // min(cols, size)
    sums = np.add.reduceat(np.add.reduceat(matrix, r_edges, axis=0), c_edges, axis=1)
    r_counts = np.diff(np.append(r_edges, rows))
    c_counts = np.diff(np.append(c_edges, cols))
    means: npt.NDArray[np.float32] = (sums / np.outer(r_counts, c_counts)).astype(np.float32)
    return means


def _mapped_member(path: Path, name: str) -> tuple[npt.NDArray[Any] | None, bool]:
    """Memory-map ``name``.npy inside the archive when it is stored uncompressed."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None, False
    with path.open("rb") as f:
        f.seek(info.header_offset)
        header = f.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            return None, False
        fields = _LOCAL_HEADER.unpack(header)
        name_len, extra_len = fields[-2], fields[-1]
        f.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None, False
        offset = f.tell()
    if dtype.hasobject:
        raise AttentionError("the attention matrix holds Python objects")
    if not shape or 0 in shape:
        return None, False
    mapped = np.memmap(str(path), dtype=dtype, mode="r", offset=offset, shape=shape,
                       order="F" if fortran else "C")
    return mapped, True


def _indices(stored: Any, listed: Any, n: int) -> list[int]:
    for source in (stored, listed):
        if source is None:
            continue
        values = [int(v) for v in np.asarray(source).ravel().tolist()]
        if len(values) == n:
            return values
    return list(range(n))


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else default


def save_selection(path: Path, capture: AttentionCapture, layer: int | None,
                   head: int | None, mean: bool = False) -> None:
    """Write a NPZ: with ``layer`` None everything captured, else that layer's ``head``
    (or, with ``mean``, the mean over its heads)."""
    pieces = np.array(capture.pieces, dtype=np.str_)
    if layer is None:
        np.savez(path, tokens=capture.tokens, pieces=pieces,
                 attention=np.asarray(capture.attention, dtype=np.float32),
                 layers=np.array(capture.layers, np.int32),
                 heads=np.array(capture.heads, np.int32))
        return
    matrix = capture.matrix(layer, None if mean else head)
    np.savez(path, tokens=capture.tokens, pieces=pieces, attention=matrix,
             layer=np.int32(capture.layers[layer]),
             head=np.int32(-1 if mean or head is None else capture.heads[head]))


def row_weights(matrix: npt.NDArray[np.float32], query: int) -> Sequence[float]:
    """Query token ``query``'s weights over every token (0 for later ones)."""
    row = np.array(matrix[query], dtype=np.float32)
    row[query + 1:] = 0.0
    return [float(v) for v in row.tolist()]
