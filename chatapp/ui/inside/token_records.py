"""The token records of the reply the panel shows, kept compactly (no Qt here).

A token record as Python objects (six stages of twenty [id, text, p] lists, 64 [id, logit]
candidates, the dicts around them) is about 300 containers, and the garbage collector walks
every live container in each full collection while it holds the GIL: kept as dicts, a
4,000-token reply made the GUI thread stall for 100-250 ms at a time, more as the reply grew.
So the panel keeps per token only what drawing the reply needs, in flat containers the collector
does not look into (its text in a list of str, its probability in an array), and the record
itself as one object it does not track either: pickled bytes for a record that arrived as a
dict (a streamed token), or a row of the stored blob's `RecordTable`.  A record is rebuilt when
it is needed (the selected token, a tooltip), and the last few rebuilt are cached.
"""

from __future__ import annotations

import math
import pickle
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from chatapp.storage.records import RecordTable

#: Records kept rebuilt (the selection, the tooltips last shown).
CACHED = 32

_MISSING = object()


def piece_of(record: Mapping[str, Any]) -> str:
    """What the reply shows for a token: its piece, or its text when it has no piece."""
    piece = record.get("piece")
    return piece if isinstance(piece, str) else str(record.get("text", ""))


def shade_of(p: float) -> float:
    """The shade of a token drawn with probability ``p`` (NaN: not known, no shade)."""
    return 0.0 if math.isnan(p) else 1.0 - p


def _probability(value: Any) -> float:
    """A record's probability as a float, NaN when it has none that is a number."""
    return float(value) if isinstance(value, int | float) else math.nan


class TokenRecords:
    """A reply's token records, compact: drawing data in flat containers, each whole record as
    one untracked object rebuilt on demand (see the module docstring).

    The records given come back equal (`record`, `records`) but as new objects: changing one
    changes nothing here.
    """

    def __init__(self) -> None:
        """No records."""
        self._table: RecordTable | None = None  # a stored reply: its first len(table) records
        self._packed: list[bytes] = []  # the others, pickled (our own bytes: safe to load)
        self._pieces: list[str] = []
        self._chosen_p = array("d")  # NaN where the record gives none
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]] | RecordTable) -> TokenRecords:
        """Records given as dicts (converted at once: the dicts are not kept) or as a stored
        reply's table (kept as it is)."""
        made = cls()
        if isinstance(records, RecordTable):
            made._table = records
            texts = records.column("text", "")
            made._pieces = [p if isinstance(p, str) else str(t) for p, t in zip(
                records.column("piece", _MISSING), texts, strict=True)]
            made._chosen_p = array("d", map(_probability, records.column("chosen_p")))
        else:
            for record in records:
                made.append(record)
        return made

    def append(self, record: Mapping[str, Any]) -> None:
        """One more record (a streamed token): about 20 us."""
        self._packed.append(pickle.dumps(dict(record), pickle.HIGHEST_PROTOCOL))
        self._pieces.append(piece_of(record))
        self._chosen_p.append(_probability(record.get("chosen_p")))

    def __len__(self) -> int:
        """How many records."""
        return len(self._pieces)

    def piece(self, index: int) -> str:
        """Token ``index``'s piece, as the reply shows it (see `piece_of`)."""
        return self._pieces[index]

    def shade(self, index: int) -> float:
        """Token ``index``'s shade (see `shade_of`)."""
        return shade_of(self._chosen_p[index])

    def pieces(self) -> list[str]:
        """Each token's piece, as the reply shows it (see `piece_of`)."""
        return list(self._pieces)

    def shades(self) -> list[float]:
        """Each token's shade (see `shade_of`)."""
        return [shade_of(p) for p in self._chosen_p]

    def record(self, index: int) -> dict[str, Any]:
        """Record ``index`` (0 <= index < len) as a dict, rebuilt or from the cache; IndexError
        outside.  Do not change it: it may be handed out again."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        stored = len(self._table) if self._table is not None else 0
        if index < stored:
            assert self._table is not None
            record = self._table.record(index)
        else:
            record = pickle.loads(self._packed[index - stored])
        self._cache[index] = record
        if len(self._cache) > CACHED:
            self._cache.popitem(last=False)
        return record

    def records(self) -> list[dict[str, Any]]:
        """Every record, rebuilt (new dicts: for tests and tools, not for drawing)."""
        stored = self._table.records() if self._table is not None else []
        return stored + [pickle.loads(data) for data in self._packed]
