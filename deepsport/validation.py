"""One-line descriptions of validation failures, for messages a model or a user reads."""

from __future__ import annotations

import jsonschema
import pydantic


def schema_problem(error: jsonschema.ValidationError) -> str:
    """A JSON Schema error as ``path.to.field: message`` (the message alone at the top level)."""
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def model_problems(error: pydantic.ValidationError) -> list[str]:
    """A pydantic validation error as one ``path.to.field: message`` per failing field."""
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
