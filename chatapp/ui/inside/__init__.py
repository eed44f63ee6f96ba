"""The "Inside the model" panel: sampling stages, what-if replays and attention maps."""

from chatapp.ui.inside.panel import InsidePanel

__all__ = ["InsidePanel"]
