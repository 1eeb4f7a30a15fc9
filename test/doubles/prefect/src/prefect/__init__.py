# TEST DOUBLE of Prefect 3.4 (PyPI package "prefect"), written for pag-ansible's integration tests.
# It imitates the CLI, REST API and process worker of the real tool with the standard library only.
# Product code (src/, roles-templates/) must not know about it: it must work unchanged against real Prefect.
"""Minimal stand-in for the public `prefect` package: `flow`, `task`, `get_run_logger`."""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Optional

from ._version import __version__

__all__ = ["flow", "task", "get_run_logger", "Flow", "__version__"]

TEST_DOUBLE = True


class Flow:
    """What `@flow` returns: a callable carrying the flow's name and options."""

    def __init__(self, fn: Callable[..., Any], name: Optional[str] = None, log_prints: Optional[bool] = None,
                 description: Optional[str] = None, **options: Any) -> None:
        self.fn = fn
        self.name = name or fn.__name__.replace("_", "-")
        self.log_prints = log_prints
        self.description = description or (fn.__doc__ or None)
        self.options = options
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def with_options(self, **kwargs: Any) -> "Flow":
        merged = {"name": self.name, "log_prints": self.log_prints, "description": self.description, **self.options}
        merged.update(kwargs)
        return Flow(self.fn, **merged)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


def flow(__fn: Optional[Callable[..., Any]] = None, **kwargs: Any) -> Any:
    """`@flow` and `@flow(name=..., log_prints=True, ...)`."""
    if __fn is not None:
        return Flow(__fn, **kwargs)
    return lambda fn: Flow(fn, **kwargs)


def task(__fn: Optional[Callable[..., Any]] = None, **kwargs: Any) -> Any:
    """`@task`: runs the function inline (no task runs are recorded by the double)."""
    if __fn is not None:
        return __fn
    return lambda fn: fn


def get_run_logger() -> logging.Logger:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(levelname)-7s | %(name)s - %(message)s")
    return logging.getLogger("prefect.flow_runs")
