"""Sizes and counts as people read them, one way everywhere (window, command line, messages)."""

from __future__ import annotations


def format_bytes(n: int) -> str:
    """A size in decimal units, as file managers show it: 512 B, 1.5 kB, 98 MB, 4.1 GB.

    One decimal below 10 (dropped when it is 0), none above: "98 MB", not "98.4 MB".
    """
    return _scaled(n, 1000, ("B", "kB", "MB", "GB", "TB", "PB"), space=True)


def format_params(n: int) -> str:
    """A parameter count as models are named: 950, 12K, 135M, 1.7B, 70B."""
    return _scaled(n, 1000, ("", "K", "M", "B", "T"), space=False)


def _scaled(n: int, base: int, units: tuple[str, ...], *, space: bool) -> str:
    if n < 0:
        raise ValueError(f"a count cannot be negative: {n}")
    value, unit = float(n), 0
    while unit < len(units) - 1:
        # Decide on the rounded value: 999,960 bytes would otherwise read "1000 kB".
        shown = round(value, 1) if value < 10 else round(value)
        if shown < base:
            break
        value /= base
        unit += 1
    if unit == 0:
        number = str(n)
    elif value < 10 and round(value, 1) != round(value):
        number = f"{value:.1f}"
    else:
        number = str(round(value))
    sep = " " if space and units[unit] else ""
    return f"{number}{sep}{units[unit]}"
