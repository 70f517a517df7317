"""Every relative link in the README, the changelog and docs/ points at a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HTML = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
#: Files a make target writes rather than git holding them: the link is right once it has run.
GENERATED = {"docs/load.png": "make bench"}


def links(text: str) -> list[str]:
    """The link targets of a Markdown page, outside code blocks and code spans."""
    text = _CODE.sub("", _FENCE.sub("", text))
    return _INLINE.findall(text) + _REFERENCE.findall(text) + _HTML.findall(text)


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub makes of a page: lower case, punctuation gone, spaces to hyphens."""
    out: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _FENCE.sub("", page.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        base, n = slug, 1
        while slug in out:
            slug, n = f"{base}-{n}", n + 1
        out.add(slug)
    return out


def generated(dest: Path) -> bool:
    """A file the Makefile writes (and says so), linked before the target has run."""
    rel = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else ""
    return rel in GENERATED and rel in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_pages_have_links_to_check() -> None:
    assert sum(len(links(p.read_text(encoding="utf-8"))) for p in PAGES) > 20


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` that point at no file, or at no heading of one."""
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() and not generated(dest):
            broken.append(f"{target} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target} (no heading #{fragment} in {dest.name})")
    return broken


def test_a_missing_file_or_heading_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## The counters\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[ok](other.md#the-counters) [gone](gone.md) [bad](other.md#nothing) [self](#page)\n"
        "[web](https://example.org/x.md) `[code](code.md)`\n```\n[fenced](fenced.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["gone.md (no such file)", "other.md#nothing (no heading #nothing in other.md)"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_something_that_exists(page: Path) -> None:
    broken = broken_links(page)
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
