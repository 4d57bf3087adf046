#!/usr/bin/env bash
# Install what tests/test_hub.py (JupyterHub in a browser) needs, or fail loudly.
#
# Why a script of its own: the hub test needs things outside Python (Debian's chromium,
# npm's configurable-http-proxy and playwright-core) and root (one OS account per
# student). CI (.ci/run) runs this before the test suite; where it cannot install
# something it stops with what is missing, so a CI machine never skips the test silently.
# Idempotent and fast on a second run: apt and npm skip what is there, pip what is current.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "tests/hub/prepare.sh: $*" >&2; echo "the JupyterHub test (tests/test_hub.py) cannot run on this machine" >&2; exit 1; }

[ "$(id -u)" = "0" ] || fail "must run as root (apt-get, and the test creates OS users)"
for tool in node npm useradd setpriv; do
  command -v "$tool" >/dev/null 2>&1 || fail "\`$tool\` is missing"
done

if ! command -v chromium >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and there is no apt-get to install it"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
    || fail "apt-get could not install chromium"
fi
chromium --version >/dev/null 2>&1 || fail "chromium is installed but does not start"

# The hub's environment: what students' servers, the hub and the instructor run from.
# Not the course's .venv: its interpreter may live where other accounts cannot go (pyenv
# under /root), and the students' environment must not hold the grader. So: the system's
# Python 3.11+, a venv in a world-readable place, torch pinned as scripts/install.sh pins
# it, the grader's dependencies and JupyterHub, but never the grader itself (the
# instructor's commands find it in this checkout through PYTHONPATH). Kept between runs.
HUB_ENV=/srv/dl-course-hub-test/venv
HUB_PY=/usr/bin/python3
"$HUB_PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || fail "$HUB_PY is not Python 3.11 or newer (apt-get install python3 python3-venv)"
if [ ! -x "$HUB_ENV/bin/python" ]; then
  mkdir -p "$(dirname "$HUB_ENV")"
  "$HUB_PY" -m venv "$HUB_ENV" || fail "could not create $HUB_ENV (apt-get install python3-venv)"
fi
"$HUB_ENV/bin/python" -m pip install -q --upgrade pip
if ! "$HUB_ENV/bin/python" -c "import torch, torchvision, sys; sys.exit(0 if torch.__version__.startswith('2.14.1') and torchvision.__version__.startswith('0.29.1') else 1)" 2>/dev/null; then
  "$HUB_ENV/bin/python" -m pip install -q ${GRADER_TORCH_INDEX:+--index-url "$GRADER_TORCH_INDEX"} \
    "torch==2.14.1" "torchvision==0.29.1" || fail "pip could not install torch into $HUB_ENV"
fi
"$HUB_ENV/bin/python" - > "$HUB_ENV/course-requirements.txt" <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["hub"]))
PY
"$HUB_ENV/bin/python" -m pip install -q -r "$HUB_ENV/course-requirements.txt" \
  || fail "pip could not install the course's dependencies into $HUB_ENV"
"$HUB_ENV/bin/python" -m pip uninstall -q -y grader 2>/dev/null || true
"$HUB_ENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
"$HUB_ENV/bin/python" -c "import jupyterhub, nbgrader, torch" || fail "$HUB_ENV lacks jupyterhub, nbgrader or torch"
chmod -R a+rX "$(dirname "$HUB_ENV")"

# The test itself runs from the course's .venv (pytest): it needs the hub extra too.
bash scripts/install.sh
.venv/bin/python -m pip install -q -e ".[dev,hub]" || fail "pip could not install the hub extra"

# The proxy and the browser driver, exactly as locked (no browser download: Debian's chromium).
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/hub --no-audit --no-fund --loglevel=error \
  || fail "npm ci in tests/hub failed"
for bin in configurable-http-proxy; do
  [ -x "tests/hub/node_modules/.bin/$bin" ] || fail "tests/hub/node_modules/.bin/$bin is missing"
done

# Students and the instructor are other accounts: every folder down to the course must let
# them through.
dir=$(pwd -P)
while [ "$dir" != "/" ]; do
  [ "$(( $(stat -c '%a' "$dir" | sed 's/^.*\(.\)$/\1/') & 1 ))" = "1" ] \
    || fail "$dir is not world-executable; students cannot reach the course from there (clone it under /srv or /tmp)"
  dir=$(dirname "$dir")
done
echo "hub test ready: $(chromium --version 2>/dev/null | head -1) | node $(node --version) | $HUB_ENV: jupyterhub $("$HUB_ENV/bin/python" -c 'import jupyterhub; print(jupyterhub.__version__)')"
