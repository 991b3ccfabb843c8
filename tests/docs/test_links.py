"""The repository stands on its own: nothing in it points outside it. A user's clone has
only the repository, so every Markdown link resolves inside it (anchors included), every path
a document or a docstring names exists, and no file refers to the team's reference shelf
beside the repository or to an absolute path on a developer's machine."""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

# What a clone does not have. (Spelled in pieces so that this file does not match itself.)
SHELF = "shared"
OUTSIDE = [
    re.compile(r"\.\./" + SHELF + r"\b"),
    re.compile(r"(?<![\w.-])" + SHELF + r"/(seeds|data|tools|hooks)\b"),
    re.compile(r"/" + "work" + r"/"),
    re.compile(r"\b(DOMAIN|SCENARIO|API|STYLE|NOTES-SPIFFWORKFLOW)\.md\b"),
]
TEXT = {".md", ".py", ".bpmn", ".dmn", ".toml", ".html", ".txt", ".cfg", ".ini", ".yml",
        ".yaml", ".json", ".csv", ".sh", ""}
SKIP = ("engine/web/static/vendor/", "tests/web/axe/", "docs/screenshots/", "docs/diagrams/")
TOP = ("processes", "engine", "handlers", "docs", "tests", "examples", "bench", "tools")


def tracked() -> list[Path]:
    """The repository's files: what git tracks, and what it would add (new files)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=REPOSITORY, capture_output=True, text=True, check=True).stdout
    return [REPOSITORY / line for line in listed.splitlines()
            if (REPOSITORY / line).is_file() and not line.startswith(SKIP)]


def texts() -> Iterator[tuple[Path, str]]:
    for path in tracked():
        if path.suffix in TEXT and path != Path(__file__).resolve():
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def relative(path: Path) -> str:
    return str(path.relative_to(REPOSITORY))


def test_nothing_refers_outside_the_repository() -> None:
    found = []
    for path, text in texts():
        for number, line in enumerate(text.splitlines(), 1):
            for pattern in OUTSIDE:
                if match := pattern.search(line):
                    found.append(f"{relative(path)}:{number}: {match.group(0)!r}")
    assert found == [], "references outside the repository:\n" + "\n".join(found)


# -- Markdown links ------------------------------------------------------------------------------

LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
HTML = re.compile(r"""<(?:a|img)\b[^>]*\b(?:href|src)=["']([^"']+)["']""")
CODE = re.compile(r"```.*?```", re.S)


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings."""
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*$", CODE.sub("", markdown), re.M):
        text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found


def links(markdown: str) -> Iterator[str]:
    prose = CODE.sub("", markdown)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    for match in LINK.finditer(prose):
        yield match.group(1) or match.group(2)
    yield from REFERENCE.findall(prose)
    yield from HTML.findall(prose)


def markdown_files() -> list[Path]:
    return [p for p in tracked() if p.suffix == ".md"]


@pytest.mark.parametrize("document", markdown_files(), ids=relative)
def test_every_markdown_link_resolves_inside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        if re.match(r"^(https?:|mailto:)", target):
            continue
        where, _, anchor = target.partition("#")
        file = (document.parent / where).resolve() if where else document
        if REPOSITORY not in file.parents and file != REPOSITORY:
            broken.append(f"{target}: outside the repository")
        elif not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text("utf-8")):
            broken.append(f"{target}: no heading #{anchor} in {relative(file)}")
    assert broken == [], f"{relative(document)}:\n" + "\n".join(broken)


# -- paths named in documents and docstrings ---------------------------------------------------

PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP) + r")/[\w./-]*[\w/])")


def named_paths(text: str) -> Iterator[str]:
    for match in PATH.finditer(text):
        name = match.group(1)
        if any(mark in name for mark in ("*", "NAME", "...")):
            continue
        yield name


def docstrings(source: str) -> Iterator[str]:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        kinds = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        if isinstance(node, kinds) and (text := ast.get_docstring(node, clean=False)):
            yield text


def exists(name: str) -> bool:
    name = name.rstrip("/.")
    return (REPOSITORY / name).exists() or (REPOSITORY / f"{name}.py").exists()


def test_every_path_a_document_or_docstring_names_exists() -> None:
    missing = []
    for path, text in texts():
        if path.suffix == ".md":
            found = named_paths(text)
        elif path.suffix == ".py":
            found = (name for doc in docstrings(text) for name in named_paths(doc))
        else:
            continue
        missing += [f"{relative(path)}: {name}" for name in found if not exists(name)]
    assert missing == [], "named but not in the repository:\n" + "\n".join(sorted(set(missing)))
