"""A notice as a few kinds of block, rendered to Markdown, HTML or plain text."""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

FORMATS = ("md", "html", "text")


@dataclass(frozen=True)
class Heading:
    level: int  # 1 for the section, 2 for its parts
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


Block = Heading | Paragraph | Bullets

_MD_SPECIAL = re.compile(r"([\\*`<>\[\]|])")


def render(blocks: Sequence[Block], fmt: str, language: str) -> str:
    """The blocks as ``md``, ``html`` or ``text``; one trailing newline."""
    if fmt == "md":
        return _markdown(blocks)
    if fmt == "html":
        return _html(blocks, language)
    if fmt == "text":
        return _text(blocks)
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def md_escape(text: str) -> str:
    # Only where Markdown would read the text as markup: /users/{user_id} stays readable.
    return _MD_SPECIAL.sub(r"\\\1", text)


def _markdown(blocks: Sequence[Block]) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * (b.level + 1)} {md_escape(b.text)}")
        elif isinstance(b, Paragraph):
            out.append(md_escape(b.text))
        else:
            out.append("\n".join(f"- {md_escape(item)}" for item in b.items))
    return "\n\n".join(out) + "\n"


def _html(blocks: Sequence[Block], language: str) -> str:
    out = [f'<section class="privlog-notice" lang="{html.escape(language)}">']
    for b in blocks:
        if isinstance(b, Heading):
            tag = f"h{b.level + 1}"
            out.append(f"<{tag}>{html.escape(b.text)}</{tag}>")
        elif isinstance(b, Paragraph):
            out.append(f"<p>{html.escape(b.text)}</p>")
        else:
            out.append("<ul>")
            out.extend(f"  <li>{html.escape(item)}</li>" for item in b.items)
            out.append("</ul>")
    out.append("</section>")
    return "\n".join(out) + "\n"


def _text(blocks: Sequence[Block], width: int = 78) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{b.text}\n{('=' if b.level == 1 else '-') * len(b.text)}")
        elif isinstance(b, Paragraph):
            out.append(textwrap.fill(b.text, width, break_on_hyphens=False, break_long_words=False))
        else:
            out.append(
                "\n".join(
                    textwrap.fill(
                        item,
                        width,
                        initial_indent="  - ",
                        subsequent_indent="    ",
                        break_on_hyphens=False,
                        break_long_words=False,
                    )
                    for item in b.items
                )
            )
    return "\n\n".join(out) + "\n"
