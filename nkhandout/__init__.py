"""nkhandout: one-page, referenced, multilingual patient handouts."""

__version__ = "0.1.0"
