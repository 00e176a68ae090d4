"""IAM policy documents as plain data, rendered to JSON (tokens are resolved by cdktf at synth)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: Sequence[str]
    #: None omits Resource (trust policies); statements never default to "*".
    resources: Sequence[str] | None = None
    principals: Mapping[str, Any] | str | None = None
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect}
        if self.principals is not None:
            out["Principal"] = self.principals
        out["Action"] = list(self.actions) if len(self.actions) != 1 else self.actions[0]
        if self.resources is not None:
            out["Resource"] = list(self.resources) if len(self.resources) != 1 else self.resources[0]
        if self.conditions:
            out["Condition"] = {k: dict(v) for k, v in self.conditions.items()}
        return out


def policy_json(statements: Sequence[Statement]) -> str:
    """A policy document (version 2012-10-17) as compact JSON."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [s.render() for s in statements]},
        separators=(",", ":"),
    )
