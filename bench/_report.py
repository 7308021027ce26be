"""Writes one bench script's section into docs/benchmarks.md, leaving the other sections alone."""

from pathlib import Path

SECTION_START = "\n<!-- bench/"


def write_section(path: Path, *, marker: str, section: str) -> None:
    """Replace the section that starts with `marker` in the markdown file at `path`, or append it.

    A section runs from its marker comment (e.g. ``<!-- bench/catalogue.py -->``) to the next
    ``<!-- bench/...`` line or the end of the file; `section` must start with `marker`. A missing
    file is created with a "# Benchmarks" title. Raises ValueError when `section` does not
    start with `marker`.
    """
    if not section.startswith(marker):
        raise ValueError(f"the section must start with its marker {marker!r}")
    existing = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if marker in existing:
        before, rest = existing.split(marker, 1)
        after = rest[rest.find(SECTION_START, 1) :] if SECTION_START in rest else ""
        existing = before + section + after
    else:
        existing = existing.rstrip() + "\n\n" + section
    path.write_text(existing)
