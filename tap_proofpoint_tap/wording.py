"""What log lines and messages say, made right for any count and any server's text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``1 try``, ``2 tries``: a count with its noun in the right number."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def shown(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """A server's text as one line of at most ``limit`` characters: each secret masked first
    (before anything could split or join one), then whitespace and control characters
    collapsed, the rest cut with an ellipsis."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    line = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
