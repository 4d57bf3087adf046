#!/usr/bin/env bash
# Run HERE (not on the runner): download the wheels the GPU runner lacks (the Jupyter
# execution stack, ../shared/GPU-RUNNER.md) into .whl/ and pack the verified MNIST raw files
# into .gpu/mnist.tgz, both git-ignored, to be carried to the runner.
#   RUNNER_PYTHON=3.12 WHEELS_DIR=.whl bash scripts/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${RUNNER_PYTHON:-3.12}
DEST=${WHEELS_DIR:-.whl}
mkdir -p "$DEST" .gpu
PKGS="asttokens comm debugpy decorator executing fastjsonschema ipykernel ipython
ipython_pygments_lexers jedi jsonschema jsonschema_specifications jupyter_client
jupyter_core matplotlib_inline nbclient nbformat nest_asyncio parso pexpect
platformdirs prompt_toolkit ptyprocess pure_eval pyzmq referencing rpds_py stack_data
tornado traitlets wcwidth"
for p in $PKGS; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d "$DEST" "$p"
done
# bubblewrap for the worker sandbox, in case the runner image lacks it (it has no network
# for apt-get): the binary with its own loader and libraries, started through a wrapper.
rm -rf .gpu/bwrap && mkdir -p .gpu/bwrap/lib
cp "$(command -v bwrap)" .gpu/bwrap/bwrap.real
for lib in $(ldd "$(command -v bwrap)" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
  cp -L "$lib" .gpu/bwrap/lib/
done
cat > .gpu/bwrap/bwrap <<'WRAP'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec "$here"/lib/ld-linux-x86-64.so.2 --library-path "$here/lib" "$here/bwrap.real" "$@"
WRAP
chmod +x .gpu/bwrap/bwrap
.venv/bin/python -m grader fetch-data --quiet
tar -czf .gpu/mnist.tgz -C data MNIST/raw
du -sh "$DEST" .gpu
