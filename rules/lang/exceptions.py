"""The one error the rule language raises: a condition, expression or template it refuses.

Rule text is configuration written by people, so every refusal happens at load
time and names what is wrong and where (the column in the text), so the pack
loader can prefix the file, line and rule and report all problems at once.
"""

from __future__ import annotations

from rules.exceptions import RulesError

__all__ = ["ExpressionError"]


class ExpressionError(RulesError):
    """Rule text that does not parse, names something unknown, or mixes types.

    ``reason`` is the bare explanation (what a pack error repeats after the
    rule and key); ``text`` is the offending source and ``column`` the
    1-based position of the fault in it, when known.
    """

    def __init__(self, reason: str, *, text: str = "", column: int | None = None) -> None:
        self.reason = reason
        self.text = text
        self.column = column
        super().__init__(reason if column is None else f"{reason} (column {column})")

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments defeat Exception's default pickling.
        return (_rebuild, (self.reason, self.text, self.column))


def _rebuild(reason: str, text: str, column: int | None) -> ExpressionError:
    return ExpressionError(reason, text=text, column=column)
