"""What log lines and messages say, made right for any count and any server's text."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``1 try``, ``2 tries``: a count with its noun in the right number."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def shown(text: str, limit: int) -> str:
    """A server's text as one line of at most ``limit`` characters: whitespace and control
    characters collapsed, the rest cut with an ellipsis."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
