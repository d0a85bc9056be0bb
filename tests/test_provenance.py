"""Provenance a user of a fresh clone can follow: sources are cited from docs/sources.md (in the repository),
never from a file outside it, and every cited section of docs/sources.md exists."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
#: what ships to users: the package (presets, pinned references, code), the examples and scripts, the docs
SHIPPED = ("pimtrain", "examples", "scripts", "docs", "README.md")
#: files that name ``../shared/data`` as a place to LOOK FOR optional data (not as a source of a number)
DATA_SEARCH = {
    "pimtrain/design/paths.py", "pimtrain/nn/datasets.py",  # the search itself and its error message
    "pimtrain/design/models.py", "pimtrain/design/README.md", "pimtrain/data/README.md",  # documenting it
    "README.md",
}
FORBIDDEN = ("papers.md", "shared/reference")
CITE = re.compile(r"docs/sources\.md`{0,2}((?:\s*(?:§|,\s*§|/§|–§|-§)\d+(?:\.\d+)*)+)")
SOURCE_ID = re.compile(r"docs/sources\.md`{0,2} source (S\d+)")
HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", re.M)


def _text(path: Path) -> str | None:
    """A shipped file's text; JSON decoded so escaped characters (``\\u00a7``) read as written."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None  # binary data (arrays, figures)
    if path.suffix == ".json":
        return json.dumps(json.loads(text), ensure_ascii=False)
    return text


def _shipped_texts():
    for top in SHIPPED:
        base = ROOT / top
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for p in paths:
            if "__pycache__" in p.parts:
                continue
            text = _text(p)
            if text is not None:
                yield p.relative_to(ROOT).as_posix(), text


def cited_sections(text: str) -> list[str]:
    """Section numbers cited as ``docs/sources.md §2.3`` (also ``§2.3, §5``, ``§2.2/§2.4``, ``§4–§6``)."""
    return [n for m in CITE.finditer(text) for n in re.findall(r"§(\d+(?:\.\d+)*)", m.group(1))]


def headings() -> set[str]:
    return set(HEADING.findall(SOURCES.read_text()))


def test_citation_parser_reads_every_form_and_a_missing_section_is_caught():
    text = 'source: "ISAAC via docs/sources.md §5 [R]", x (docs/sources.md §2.3, §5 [C]) ``docs/sources.md`` §4–§6 ' \
           "docs/sources.md §2.2/§2.4, docs/sources.md §13."
    assert cited_sections(text) == ["5", "2.3", "5", "4", "6", "2.2", "2.4", "13"]
    missing = [n for n in cited_sections(text) if n not in headings()]
    assert missing == ["13"]


def test_no_shipped_file_cites_a_file_outside_the_repository():
    bad = []
    for rel, text in _shipped_texts():
        bad += [f"{rel}: {f}" for f in FORBIDDEN if f in text]
        # ``../shared`` only as the optional data folder (``../shared/data``, or the folder a fresh clone lacks),
        # and only where that data search lives or is documented
        for m in re.finditer(r"\.\./shared(/\w+)?", text):
            if m.group(1) not in (None, "/data") or rel not in DATA_SEARCH:
                bad.append(f"{rel}: {m.group(0)}")
    assert not bad, "citations outside the repository:\n" + "\n".join(bad)


def test_every_cited_section_of_docs_sources_exists():
    have = headings()
    assert {"1.1", "1.4", "2.3", "5", "8.2", "11", "12"} <= have
    cites, missing = 0, []
    tests = [(p.name, p.read_text()) for p in sorted((ROOT / "tests").glob("*.py")) if p.name != Path(__file__).name]
    for rel, text in list(_shipped_texts()) + tests:
        for n in cited_sections(text):
            cites += 1
            if n not in have:
                missing.append(f"{rel}: §{n}")
    assert cites > 500  # the presets alone cite it hundreds of times: the scan saw them
    assert not missing, "cited sections missing from docs/sources.md:\n" + "\n".join(missing)


def test_every_cited_source_id_is_in_the_sources_table():
    table = set(re.findall(r"^\| (S\d+) \|", SOURCES.read_text(), re.M))
    assert table >= {f"S{i}" for i in range(1, 10)}
    for rel, text in _shipped_texts():
        for sid in SOURCE_ID.findall(text):
            assert sid in table, f"{rel}: source {sid}"


@pytest.mark.parametrize("tag", ["[A]", "[C]", "[X]", "[S]", "[R]", "[D]", "[M]"])
def test_certainty_tags_are_explained(tag):
    legend = SOURCES.read_text().split("## Sources")[0]
    assert f"| {tag} |" in legend, tag
