"""The repository is self-contained: no tracked file points a reader at something outside it.

Three rules, checked on the text of every tracked file (``git ls-files``; binary files — any NUL byte or
invalid UTF-8 — are skipped):

1. **No path into the project's private notes**: no occurrence of the word "shared" followed by a slash at
   the start of a path component (a notes folder of that name beside the repository is not part of it,
   however it is spelled: relative, absolute or quoted). Names that merely end in "shared", such as
   ``shared_sum_matmul`` or "unshared" folders, are not matched.
2. **No issue-tracker references**: the word "issue" or "issues" directly followed by a number, with an
   optional space, hyphen or number sign between them ("issue N", "issues N", "issue-N", "issue #N" with N
   digits), and a bare number sign followed by digits that stands on its own (preceded by a space, a bracket
   or the start of a line and not followed by a letter, digit or underscore, so "see #N" matches but the
   colour "#1f77b4" and the format spec "#04x" do not). Write the fact, the derivation or the paper's
   equation number instead.
3. **No section sign**: the character U+00A7 does not occur. Refer to a paper as "Sec. 3.2 of <paper>" or
   "eq. (11) of <paper>", and to this project's documentation by page path and heading
   (``docs/theory/raoq.md``, "Slice covariance"); links between documentation pages are checked by the
   documentation build (``tests/test_docs.py``), so every such reference resolves.
4. **References by page path resolve**: every ``docs/<path>.md`` named in a tracked file exists, and where a
   quoted section follows it (``docs/theory/kure.md``, section "Readings that had to be reconstructed"; the
   quote may wrap onto the next line of a comment or docstring) that section is a heading of the page. Paths
   that name another project's documentation are listed in ``FOREIGN_PAGES`` with whose they are.
"""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

SHARED = re.compile(r"(?<![\w-])shared" "/")  # split so that this line does not match itself
ISSUE = re.compile(r"\bissues?[ \-#]{0,2}\d+\b|(?:(?<=\s)|(?<=[(\[])|^)#\d+(?![\w])", re.I | re.M)
SECTION_SIGN = "\u00a7"

#: ``docs/...`` paths of other projects' repositories that tracked files cite (not pages of this site).
FOREIGN_PAGES = {
    "Operators.md": "ONNX's operator specification (onnx/onnx, docs/Operators.md)",
}
PAGE_REF = re.compile(
    r"docs/((?:[A-Za-z0-9_]+/)*[A-Za-z0-9_]+\.md)`{0,2}"
    r"(?:,\s*(?:section\s+)?[\"\u201c]([^\"\u201d\n]+(?:\n[ \t#]*[^\"\u201d\n]+)?)[\"\u201d])?"
)


def tracked_files() -> list[pathlib.Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p]


def text_of(path: pathlib.Path) -> str | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def violations(text: str) -> list[tuple[int, str, str]]:
    """(line number, rule, matched text) for every violation in ``text``."""
    found = []
    for no, line in enumerate(text.splitlines(), 1):
        for m in SHARED.finditer(line):
            found.append((no, "shared", m.group(0)))
        for m in ISSUE.finditer(line):
            found.append((no, "issue", m.group(0)))
        if SECTION_SIGN in line:
            found.append((no, "section sign", SECTION_SIGN))
    return found


def test_git_lists_the_repository():
    files = tracked_files()
    assert any(p.name == "README.md" for p in files) and any(p.suffix == ".py" for p in files)


def test_no_tracked_file_refers_outside_the_repository():
    bad = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for no, rule, what in violations(text):
            bad.append(f"{path.relative_to(ROOT)}:{no}: {rule}: {what!r}")
    assert bad == [], "references a reader cannot follow:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "text, rule",
    [
        ("facts in `" + "shared" + "/papers/aciq.md`", "shared"),
        ("see /work/" + "shared" + "/STYLE.md", "shared"),
        ("as in " + "issue" + " 5", "issue"),
        ("(" + "Issue" + "-12)", "issue"),
        ("fixed in " + "issues" + " #" + "7", "issue"),
        ("closes " + "#" + "31", "issue"),
        ("note " + SECTION_SIGN + "2.2", "section sign"),
    ],
)
def test_planted_references_are_caught(text, rule):
    assert [r for _, r, _ in violations(text)] == [rule]


@pytest.mark.parametrize(
    "text",
    [
        "shared_sum_matmul(x, w_q, tile=8)",
        "an unshared/ folder",
        "color='#1f77b4'",
        "f'{code:#04x}'",
        "## 2. Rounding modes",
        "the reissue of 2024",
        "tissue 5",
    ],
)
def test_ordinary_text_is_not_flagged(text):
    assert violations(text) == []


def page_reference_problems(text: str, docs: pathlib.Path) -> list[str]:
    """Page paths in ``text`` that name no page under ``docs``, and quoted sections that are no heading there."""
    problems = []
    for m in PAGE_REF.finditer(text):
        name, section = m.group(1), m.group(2)
        if name in FOREIGN_PAGES:
            continue
        page = docs / name
        if not page.exists():
            problems.append(f"docs/{name}: no such page")
            continue
        if section:
            want = re.sub(r"\s*\n[ \t#]*", " ", section).strip()
            headings = {re.sub(r"^#+\s*", "", ln).strip() for ln in page.read_text().splitlines() if ln.startswith("#")}
            if want not in headings:
                problems.append(f"docs/{name}: no heading {want!r}")
    return problems


def test_page_references_resolve():
    bad = []
    for path in tracked_files():
        text = text_of(path)
        if text is None or path.suffix == ".png":
            continue
        bad += [f"{path.relative_to(ROOT)}: {p}" for p in page_reference_problems(text, ROOT / "docs")]
    assert bad == [], "references to documentation pages that do not resolve:\n" + "\n".join(bad)


def test_page_reference_check_catches_planted_defects():
    docs = ROOT / "docs"
    d = "docs/"  # split so that the planted references in this file do not match themselves
    ok = f'see ``{d}theory/kure.md``, section "Readings that had\n    # to be reconstructed" and {d}SEMANTICS.md'
    assert page_reference_problems(ok, docs) == []
    assert page_reference_problems(f"see {d}theory/nope.md", docs) == [f"{d}theory/nope.md: no such page"]
    wrong = f'{d}theory/kure.md, section "No such heading"'
    assert page_reference_problems(wrong, docs) == [f"{d}theory/kure.md: no heading 'No such heading'"]
