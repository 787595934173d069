"""Imported first by the entry point, before any library: what the sidecar's process leaves out.

The sidecar is added to every pod of every opted-in Deployment (and on Fargate its memory is
billed in every pod), so an idle one should hold only what it uses. ``requests`` imports a
character-set detector, ``charset_normalizer`` (about 2.6 MiB resident), for one thing only:
guessing the encoding of a body whose headers name none (``Response.apparent_encoding``). The
sidecar reads JSON, which the API server sends as ``application/json`` (UTF-8 by that type),
raw bytes from IMDS, and only the status code of a health URL; a body's text it reads only for
an error message (the first 200 characters of an API answer that is not JSON). Without a
detector ``requests`` decodes such a body as UTF-8, replacing what does not decode, and warns
once at import that it found none: silenced here, as that line would be the only one not in
JSON.

Only the entry point imports this: a process that already holds the detector keeps it.
"""

from __future__ import annotations

import sys
import warnings

LEFT_OUT = ("charset_normalizer", "chardet")
"""Modules the sidecar's process does not import: an import of one fails, as if not installed."""

for _name in LEFT_OUT:
    sys.modules.setdefault(_name, None)  # type: ignore[arg-type]  # None: "not importable"
warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")
