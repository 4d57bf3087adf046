import sys

# jsonschema imports rfc3987_syntax, where it is installed (a Jupyter dependency), for its
# optional "iri" format checks, and that import compiles a grammar: 1.5 s of every grader
# command's start, since nbformat imports jsonschema. Nothing the grader validates has such
# a format, so the command runs without them (only this process: nbgrader's own and the
# hub's are untouched).
sys.modules.setdefault("rfc3987_syntax", None)

from .cli import main  # noqa: E402

sys.exit(main())
