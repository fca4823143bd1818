"""Data in: the registry of real public CT samples, fetching them safely, the label names.

``fetch(name)`` gives a verified local copy of a sample, ``load_ct(name)`` a CT in HU and
``load_labels(name)`` a TotalSegmentator label map with its names;
``python -m helpers.data prefetch | verify | list`` works from the command line. Modules:

* :mod:`.registry`: every sample with its files, SHA-256, URL, licence and citation;
* :mod:`.totalseg_labels`: TotalSegmentator's label id -> structure name table;
* :mod:`.fetch`: the cache, the mirror and the download, each file checked before use;
* :mod:`.environment`: what this computer has (versions, memory, which samples are present).
"""

from .fetch import (
    ChecksumError,
    DataError,
    UnknownSampleError,
    fetch,
    load_ct,
    load_labels,
    prefetch,
    sample,
    sha256_of,
    status,
    verify,
)
from .registry import SAMPLES

__all__ = ["SAMPLES", "ChecksumError", "DataError", "UnknownSampleError", "fetch", "load_ct",
           "load_labels", "prefetch", "sample", "sha256_of", "status", "verify"]
