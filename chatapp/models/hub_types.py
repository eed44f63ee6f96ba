"""Plain values describing what the Hugging Face Hub offers: repositories and GGUF files.

They cross threads (search and downloads run off the GUI thread) and go into JSON (the CLI's
`--json`, a download's resume record), so they are frozen dataclasses of plain types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class HubRepo:
    """A model repository found by a search.

    Attributes:
        repo_id: "owner/name".
        downloads: downloads in the last 30 days, as the Hub counts them (None: not given).
        likes: likes (None: not given).
        last_modified: ISO 8601 time of the last commit (None: not given).
        gated: True when the repository asks users to accept conditions before downloading.
    """

    repo_id: str
    downloads: int | None = None
    likes: int | None = None
    last_modified: str | None = None
    gated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class HubFilePart:
    """One file in a repository (a whole model, or one part of a split model).

    Attributes:
        path: the path inside the repository ("Q4_K_M/model-00001-of-00002.gguf").
        size: bytes, from the Hub's metadata (None: not given).
        sha256: the LFS object's SHA-256, hex (None: the Hub gave none).
    """

    path: str
    size: int | None
    sha256: str | None

    @property
    def file_name(self) -> str:
        """The last path component: the name the file gets on disk."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class HubModelFile:
    """A downloadable model: one GGUF file, or the parts of a split one, in part order.

    Attributes:
        repo_id: "owner/name".
        revision: the commit the listing came from (downloads pin it, so every part and every
            resumed request reads the same bytes).
        name: what to call it ("model-Q4_K_M.gguf"; for split files the name without the
            "-00001-of-00003" part marker).
        quantization: "Q4_K_M", "IQ2_XS", "F16", ... read from the file name (None: unknown).
        parts: the files, in order; one for an ordinary model.
    """

    repo_id: str
    revision: str
    name: str
    quantization: str | None
    parts: tuple[HubFilePart, ...]

    @property
    def size(self) -> int | None:
        """Total bytes (None when any part's size is unknown)."""
        sizes = [p.size for p in self.parts]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)

    @property
    def is_split(self) -> bool:
        """True for a model split over several files."""
        return len(self.parts) > 1

    @property
    def first_file_name(self) -> str:
        """The file llama.cpp is given (it finds the other parts beside it)."""
        return self.parts[0].file_name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (round-trips through `from_dict`)."""
        return {
            "repo_id": self.repo_id, "revision": self.revision, "name": self.name,
            "quantization": self.quantization, "size": self.size,
            "parts": [asdict(p) for p in self.parts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HubModelFile:
        """Rebuild from `to_dict`'s output; raises (KeyError, TypeError, ValueError) if bad."""
        parts = tuple(
            HubFilePart(path=str(p["path"]),
                        size=None if p.get("size") is None else int(p["size"]),
                        sha256=None if p.get("sha256") is None else str(p["sha256"]))
            for p in data["parts"]
        )
        if not parts:
            raise ValueError("a model file needs at least one part")
        quant = data.get("quantization")
        return cls(repo_id=str(data["repo_id"]), revision=str(data["revision"]),
                   name=str(data["name"]), quantization=None if quant is None else str(quant),
                   parts=parts)
