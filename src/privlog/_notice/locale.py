"""Translation files: one TOML file per language under ``locales/``, loaded once per language."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from .._errors import UsageError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def languages() -> list[str]:
    """The languages a notice can be written in: one per translation file."""
    folder = resources.files(__package__) / "locales"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


class Locale:
    """The sentences of one language, looked up by dotted key (``field.client_ip.truncate``)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.language = str(data["meta"]["language"])
        self._data = data
        self._rewrites = [
            (re.compile(pattern), replacement) for pattern, replacement in data["legal"]["rewrites"]
        ]

    def has(self, key: str) -> bool:
        """True when the translation file holds a sentence under ``key``."""
        try:
            return isinstance(self._lookup(key), str)
        except KeyError:
            return False

    def _lookup(self, key: str) -> Any:
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(f"{self.language}: no sentence for {key!r}")
            node = node[part]
        return node

    def text(self, key: str, **params: object) -> str:
        """The sentence under ``key`` with its ``{name}`` placeholders filled in.

        Braces that name no parameter are left as they are, so a sentence can show a path
        template such as ``/users/{user_id}``.
        """
        template = self._lookup(key)
        if not isinstance(template, str):
            raise KeyError(f"{self.language}: {key!r} is not a sentence")
        return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)

    def quote(self, text: str) -> str:
        return self.text("words.quote", text=text)

    def number(self, n: int) -> str:
        """A small number as a word (``two``), larger ones as digits."""
        words: Sequence[str] = self._lookup("words.numbers")
        return words[n] if 0 <= n < len(words) else str(n)

    def days(self, n: int) -> str:
        return self.text("words.day" if n == 1 else "words.days", n=n)

    def span(self, n: int) -> str:
        """A number of days as a sentence's object (``7 Tage``, where :meth:`days` gives ``7 Tagen``)."""
        return self.text("words.span" if n == 1 else "words.spans", n=n)

    def join(self, items: Sequence[str], word: str = "and") -> str:
        """``a, b and c`` (or ``a, b or c``) in this language."""
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.text(f'words.{word}')} {items[-1]}"

    def legal_text(self, text: str) -> str:
        """The policy's legal basis in this language's legal terms (``Art. 6 Abs. 1 lit. f DSGVO``)."""
        for pattern, replacement in self._rewrites:
            text = pattern.sub(replacement, text)
        return text


@functools.cache
def load(language: str) -> Locale:
    """The translation of ``language``; a UsageError naming the choices if there is none."""
    if language not in languages():
        raise UsageError("--lang", f"no translation for {language!r}", did_you_mean(language, languages()))
    raw = (resources.files(__package__) / "locales" / f"{language}.toml").read_text(encoding="utf-8")
    return Locale(tomllib.loads(raw))
