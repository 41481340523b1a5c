from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a rule applied or did not, in words a marketer can read."""

    rule: str
    applied: bool
    message: str
    line_no: int | None = None

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "rule": self.rule,
            "applied": self.applied,
            "message": self.message,
        }
        if self.line_no is not None:
            body["line_no"] = self.line_no
        return body
