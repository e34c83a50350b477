"""What of a notebook goes upstream: the notebook, without the kiosk's own bookkeeping.

The share extension records, in the notebook's metadata, where the *kiosk's* copy
lives (``sharedId``, ``readableId``, ``domainId`` = the kiosk's name, ``lastShared``,
``isSharedNotebook``) and any ``kiosk*`` key. None of that concerns the upstream, and
the kiosk's name is a detail about the school: it is removed before upload. The
notebook is re-serialised only when something was removed; otherwise the exact text
the student shared goes up.
"""

from __future__ import annotations

import json
from typing import Any

INTERNAL_METADATA = ("sharedId", "readableId", "domainId", "lastShared", "isSharedNotebook")


def upstream_content(content: str) -> str:
    """``content`` (a notebook's JSON text) without kiosk-internal metadata."""
    try:
        notebook: Any = json.loads(content)
    except ValueError:
        return content
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    if not isinstance(metadata, dict):
        return content
    drop = [k for k in metadata if k in INTERNAL_METADATA or k.lower().startswith("kiosk")]
    if not drop:
        return content
    for key in drop:
        del metadata[key]
    return json.dumps(notebook, ensure_ascii=False, separators=(",", ":"))
