"""chatapp: chat offline with local language models, and see the Transformer work."""

__version__ = "0.1.0"
