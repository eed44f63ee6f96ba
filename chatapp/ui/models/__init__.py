"""The Models window: the model library, Hub search with "will it fit", and downloads."""

from chatapp.ui.models.models_window import ModelsWindow

__all__ = ["ModelsWindow"]
