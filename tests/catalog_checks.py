"""One check for every translated catalog (the kiosk's pages, the notebook extension)."""

from __future__ import annotations

import re

from babel.messages.catalog import Catalog


def check_translated(catalog: Catalog, code: str, placeholder: re.Pattern[str],
                     tag: re.Pattern[str] | None = None) -> None:
    """Every message has each form translated (as many as the language's plural forms),
    none fuzzy; a singular keeps exactly the source's placeholders (``placeholder``),
    a plural form a subset of them (it may leave the count out: "one file"); with
    ``tag``, the same markup tags as the source."""
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        forms = [message.string] if isinstance(message.string, str) else list(message.string)
        assert len(forms) == (1 if len(ids) == 1 else catalog.num_plurals), message.id
        for form in forms:
            assert form and form.strip(), (code, message.id)
            if len(ids) == 1:
                assert sorted(placeholder.findall(form)) == sorted(
                    placeholder.findall(ids[0])), (code, message.id)
            else:
                assert set(placeholder.findall(form)) <= set(placeholder.findall(ids[1])), (
                    code, message.id)
            if tag is not None:
                assert sorted(tag.findall(form)) == sorted(tag.findall(ids[0])), (
                    code, message.id)
