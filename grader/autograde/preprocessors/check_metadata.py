"""nbgrader's ``CheckCellMetadata``, checking nbgrader's own schema once per notebook, not
once per cell.

Why: nbgrader validates every cell's metadata with ``jsonschema.validate(meta, schema)``,
which first validates the *schema* against jsonschema's meta-schema, for every cell. That
was a fifth of recording a submission in the gradebook (about 0.1 s of 0.45 s, twice per
submission: the sanitising pass and the autograde pass), and recording runs one submission
at a time while the pool grades the rest. The checks are nbgrader's own, unchanged (the
same validator class, the same errors, ``best_match`` as ``jsonschema.validate`` picks it);
only the meta-schema check of a schema that ships with nbgrader is done once per notebook.
"""

from __future__ import annotations

import contextlib
import json
import types
from collections.abc import Iterator

import jsonschema
from nbgrader.nbgraderformat import common
from nbgrader.preprocessors import CheckCellMetadata as _CheckCellMetadata


class CheckCellMetadata(_CheckCellMetadata):
    """``nbgrader.preprocessors.CheckCellMetadata`` with the schema checked once."""

    def preprocess(self, nb, resources):
        with _schema_checked_once():
            return super().preprocess(nb, resources)


@contextlib.contextmanager
def _schema_checked_once() -> Iterator[None]:
    """While nbgrader validates one notebook, its ``jsonschema.validate`` reuses one
    validator per schema (checked against the meta-schema when it is made)."""
    validators: dict[str, jsonschema.protocols.Validator] = {}

    def validate(instance, schema, *args, **kwargs):
        if args or kwargs:
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        if key not in validators:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validators[key] = cls(schema)
        error = jsonschema.exceptions.best_match(validators[key].iter_errors(instance))
        if error is not None:
            raise error

    shim = types.SimpleNamespace(validate=validate)
    saved, common.jsonschema = common.jsonschema, shim
    try:
        yield
    finally:
        common.jsonschema = saved
