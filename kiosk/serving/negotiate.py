"""Choosing a stored encoding from ``Accept-Encoding`` (RFC 9110 §12.5.3).

Pure functions. Only encodings we store (``br``, ``gzip``) and ``identity`` are ever
chosen; ``q=0`` refuses an encoding, ``*`` covers the ones not named, and identity
stays acceptable unless refused explicitly or through ``*;q=0``.
"""

from __future__ import annotations

from collections.abc import Iterable

# Preference when the client weighs them equally: smallest first.
PREFERENCE = ("br", "gzip")


def parse_accept_encoding(header: str | None) -> dict[str, float]:
    """Map each coding named in the header to its q-value (lowercased; bad q means 0)."""
    weights: dict[str, float] = {}
    if not header:
        return weights
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        coding = fields[0].lower()
        if not coding:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        weights[coding] = max(q, weights.get(coding, 0.0)) if coding in weights else q
    return weights


def choose_encoding(header: str | None, available: Iterable[str]) -> str | None:
    """The stored encoding to send (``None``: identity).

    Raises ``LookupError`` when the client refuses identity and every stored form.
    """
    weights = parse_accept_encoding(header)
    star = weights.get("*")
    best: tuple[float, int, str] | None = None
    stored = set(available)
    for rank, coding in enumerate(PREFERENCE):
        if coding not in stored:
            continue
        q = weights.get(coding, star if star is not None else 0.0)
        if coding == "gzip" and "gzip" not in weights and "x-gzip" in weights:
            q = weights["x-gzip"]
        if q > 0 and (best is None or (q, -rank) > (best[0], best[1])):
            best = (q, -rank, coding)
    identity_q = weights.get("identity", star if star is not None else 1.0)
    if best is not None and best[0] >= identity_q:
        return best[2]
    if identity_q > 0:
        return None
    if best is not None:
        return best[2]
    raise LookupError("no acceptable encoding")
