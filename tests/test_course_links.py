"""Every glossary / instructors' link in the notebooks lands on a heading that exists, and every notebook links the glossary."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "_src").glob("[0-9][0-9]_*.py"))
LINK = re.compile(r"\.\./docs/(glossary|instructors)\.md#([a-z0-9_\-]+)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(doc: str) -> set[str]:
    text = (ROOT / "docs" / f"{doc}.md").read_text(encoding="utf-8")
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_slug_follows_github():
    assert _slug(" DS1 / DS2 (inter-patient split)") == "ds1--ds2-inter-patient-split"
    assert _slug("Logits, softmax, p_true") == "logits-softmax-p_true"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_links_land_on_existing_headings(source):
    anchors = {doc: _anchors(doc) for doc in ("glossary", "instructors")}
    broken = [f"{doc}.md#{a}" for doc, a in LINK.findall(source.read_text(encoding="utf-8")) if a not in anchors[doc]]
    assert not broken, f"{source.name} links to missing headings: {broken}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_notebook_links_the_glossary(source):
    assert "docs/glossary.md" in source.read_text(encoding="utf-8"), f"{source.name} does not link docs/glossary.md"
