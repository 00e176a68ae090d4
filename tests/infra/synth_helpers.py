"""Helpers the infra tests share: synthesize constructs alone in a test stack, and read the JSON.
(``tests/infra`` is on ``sys.path``, see conftest.py.)"""

from __future__ import annotations

import json
from typing import Any, Callable

from cdktf import TerraformStack
from cdktf import Testing as CdkTesting  # aliased: pytest would try to collect "Testing"


def synth_construct(build: Callable[[TerraformStack], Any]) -> dict[str, Any]:
    """``build(stack)`` in a fresh test stack, synthesized and parsed."""
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    build(stack)
    return json.loads(CdkTesting.synth(stack))


def resources(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """``{logical id: body}`` of the resources of one type (empty when there are none)."""
    return doc.get("resource", {}).get(rtype, {})


def only(doc: dict[str, Any], rtype: str) -> tuple[str, dict[str, Any]]:
    """``(logical id, body)`` of the one resource of ``rtype``; fails unless there is exactly one."""
    found = resources(doc, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.items()))


def ref(rtype: str, rid: str, attr: str) -> str:
    """The token a reference to ``rtype.rid.attr`` synthesizes to."""
    return "${%s.%s.%s}" % (rtype, rid, attr)


def statements(policy: str) -> dict[str, dict[str, Any]]:
    """``{sid: statement}`` of a policy document's JSON text."""
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}
