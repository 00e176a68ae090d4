"""A lazy front for the Powertools ``Tracer``.

Constructing ``Tracer()`` imports the X-Ray SDK and botocore (~300 ms here) even when tracing is
disabled, which alone would break the handler import budget. ``tracer`` offers the same
decorators (``capture_lambda_handler``, ``capture_method``) but creates the real Powertools
``Tracer`` on first use, and only when tracing is on: in Lambda (``LAMBDA_TASK_ROOT`` set), not in
SAM local/Chalice, and without ``POWERTOOLS_TRACE_DISABLED`` (Powertools' own rules). When it is
created, botocore is patched so every AWS call is a subsegment.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .wiring import env

F = TypeVar("F", bound=Callable[..., Any])
_TRUTHY = {"1", "true", "yes", "on", "y", "t"}


def tracing_enabled() -> bool:
    if os.environ.get(env.POWERTOOLS_TRACE_DISABLED, "false").strip().lower() in _TRUTHY:
        return False
    if not os.environ.get("LAMBDA_TASK_ROOT"):
        return False
    return not (os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))


class LazyTracer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resolved = False
        self._tracer: Any = None

    def get(self) -> Any:
        """The Powertools ``Tracer`` (created now if needed), or None when tracing is off."""
        if not self._resolved:
            with self._lock:
                if not self._resolved:
                    if tracing_enabled():
                        from aws_lambda_powertools import Tracer

                        self._tracer = Tracer(auto_patch=False)
                        self._tracer.patch(modules=("botocore",))
                    self._resolved = True
        return self._tracer

    def reset(self) -> None:
        """Forget the decision (tests that toggle the environment)."""
        with self._lock:
            self._resolved, self._tracer = False, None

    def _lazy(self, function: F, decorate: Callable[[Any], Callable[[F], F]]) -> F:
        wrapped: dict[int, Callable[..., Any]] = {}

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            real = self.get()
            if real is None:
                return function(*args, **kwargs)
            target = wrapped.get(id(real))
            if target is None:
                target = wrapped[id(real)] = decorate(real)(function)
            return target(*args, **kwargs)

        return call  # type: ignore[return-value]

    def capture_lambda_handler(self, function: F) -> F:
        return self._lazy(function, lambda real: real.capture_lambda_handler)

    def capture_method(self, function: F) -> F:
        return self._lazy(function, lambda real: real.capture_method)


#: The process-wide tracer every handler decorates with.
tracer = LazyTracer()
