"""The package's version, in a module of its own so that the code that records it imports nothing above."""

__version__ = "0.1.0"
