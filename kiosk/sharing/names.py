"""The optional student name of a share: the ``X-Kiosk-Student-Name`` request header.

A kiosk-only extension of the JE API: the kiosk's Share dialog may send the name the
student typed; Jupyter Everywhere clients never send the header, and their requests
behave exactly as before. The value is the name percent-encoded as UTF-8 (what
``encodeURIComponent`` gives), since HTTP headers carry only ASCII safely.

The name is what a student chose to type: kept on the kiosk, shown to the teacher,
used in export file names, and sent upstream only when the teacher allows it
(``sync_student_names``). It is never derived from the client's address.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

from kiosk.errors import BadRequest

STUDENT_NAME_HEADER = "X-Kiosk-Student-Name"
#: characters kept at most (a first name and a family name fit easily)
STUDENT_NAME_MAX = 60
#: encoded header bytes accepted at most (every character may take 12: %XX%XX%XX%XX)
_ENCODED_MAX = STUDENT_NAME_MAX * 12


def clean_student_name(text: str) -> str | None:
    """``text`` as a name to keep: NFC, spaces collapsed; None when empty.

    :class:`BadRequest` for control or format characters (bidi overrides, zero-width
    joiners used to disguise a name) or more than :data:`STUDENT_NAME_MAX` characters.
    """
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if not text:
        return None
    if any(unicodedata.category(c)[0] == "C" for c in text):
        raise BadRequest("The student name may not contain control or invisible "
                         "formatting characters.")
    if len(text) > STUDENT_NAME_MAX:
        raise BadRequest(f"The student name is {len(text)} characters long; at most "
                         f"{STUDENT_NAME_MAX} are accepted.")
    return text


def parse_student_name(header: str | None) -> str | None:
    """The checked name in an ``X-Kiosk-Student-Name`` header value (None if absent/empty)."""
    if header is None:
        return None
    if len(header) > _ENCODED_MAX or not (header.isascii() and header.isprintable()):
        raise BadRequest(f"{STUDENT_NAME_HEADER} must be the name percent-encoded as "
                         f"UTF-8, at most {STUDENT_NAME_MAX} characters.")
    try:
        text = unquote(header, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"{STUDENT_NAME_HEADER} is not percent-encoded UTF-8.") from None
    return clean_student_name(text)
