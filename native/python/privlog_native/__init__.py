"""privlog's compiled batch path (Rust): see ``privlog._native`` for how privlog drives it.

An :class:`Engine` holds a compiled policy (the plain description ``privlog._native.describe``
builds from a validated ``Policy``) and the keys of each key epoch; :meth:`Engine.run` turns a
batch of raw-facts tuples into records, encoded for the OTLP sink and the JSONL store, with the
GIL released. Captures it cannot reproduce exactly as the Python pipeline does are listed in
:attr:`Batch.fallback` for Python to fill in. A :class:`LogAnonymizer` applies an engine's
policy to blocks of nginx/Apache ``combined`` log lines (``privlog anonymize``).
"""

from __future__ import annotations

from ._native import Batch, Engine, LogAnonymizer, __version__

__all__ = ["Batch", "Engine", "LogAnonymizer", "__version__"]
