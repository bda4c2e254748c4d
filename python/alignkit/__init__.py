"""alignkit: efficient and effective alignment of large language models.

Subpackages, one per method of the thesis plus shared layers:

- ``alignkit.webr``: Web Reconstruction (Common Crawl shards to instruction data).
- ``alignkit.data``: datasets and deterministic demo data.
- ``alignkit.cli``: the ``alignkit`` command line.
"""

from alignkit._core import __version__

__all__ = ["__version__"]
