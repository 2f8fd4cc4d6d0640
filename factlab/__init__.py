"""factlab: privacy-preserving record linkage and counting of youth-care client data."""

from factlab._version import __version__

__all__ = ["__version__"]
