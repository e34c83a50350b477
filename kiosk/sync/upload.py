"""What of a notebook goes upstream: the notebook, without the kiosk's own bookkeeping.

The share extension records, in the notebook's metadata, where the *kiosk's* copy
lives (``sharedId``, ``readableId``, ``domainId`` = the kiosk's name, ``lastShared``,
``isSharedNotebook``) and any ``kiosk*`` key. None of that concerns the upstream, and
the kiosk's name is a detail about the school: it is removed before upload. The
notebook is re-serialised only when something was removed; otherwise the exact text
the student shared goes up.

The name a student typed in the Share dialog stays on the kiosk unless the teacher
turns ``sync_student_names`` on; then it goes up as the notebook's standard
``metadata.authors`` (``[{"name": ...}]``).
"""

from __future__ import annotations

import json
from typing import Any

INTERNAL_METADATA = ("sharedId", "readableId", "domainId", "lastShared", "isSharedNotebook")


def upstream_content(content: str, author: str | None = None) -> str:
    """``content`` (a notebook's JSON text) without kiosk-internal metadata.

    With ``author`` (the student's name, allowed upstream by the teacher), the
    notebook's ``metadata.authors`` becomes ``[{"name": author}]``.
    """
    try:
        notebook: Any = json.loads(content)
    except ValueError:
        return content
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    if not isinstance(metadata, dict):
        return content
    drop = [k for k in metadata if k in INTERNAL_METADATA or k.lower().startswith("kiosk")]
    if not drop and author is None:
        return content
    for key in drop:
        del metadata[key]
    if author is not None:
        metadata["authors"] = [{"name": author}]
    return json.dumps(notebook, ensure_ascii=False, separators=(",", ":"))
