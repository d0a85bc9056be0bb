#!/usr/bin/env bash
# Build IBM aihwkit 1.2.0 from its source distribution into a venv OUTSIDE this repository,
# for scripts/compare_aihwkit.py only. aihwkit is never a dependency of pimtrain and none of
# its code is committed here.
#
#   bash scripts/build_aihwkit.sh [VENV_DIR]      (default /work/aihwkit-venv)
#
# Needs: python3 (3.11), cmake, a C++ compiler, OpenBLAS headers (Debian: libopenblas-dev),
# PyPI reachable. Takes about 4-14 minutes on 2 shared cores (MAKEFLAGS=-j2).
# To run tests/test_compare_aihwkit.py's aihwkit test as well (it is skipped where aihwkit is absent):
#   VENV/bin/pip install pytest hypothesis pydantic pyyaml pint rich typer
#   PYTHONPATH=$PWD VENV/bin/python -m pytest tests/test_compare_aihwkit.py -q
set -euo pipefail
VENV="${1:-/work/aihwkit-venv}"
AIHWKIT_VERSION="${AIHWKIT_VERSION:-1.2.0}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

if ! ls /usr/lib/*/libopenblas.so /usr/lib/libopenblas.so >/dev/null 2>&1 \
   || ! ls /usr/include/*/openblas*/cblas.h /usr/include/openblas/cblas.h >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq libopenblas-dev
  else
    echo "build_aihwkit: OpenBLAS headers missing; install libopenblas-dev (as root)" >&2; exit 2
  fi
fi

python3 -m venv "$VENV"
PY="$VENV/bin/python"
# the build calls mypy's stubgen (a build requirement) by name: the venv's bin first on PATH
export PATH="$VENV/bin:$PATH"
"$PY" -m pip install -q --upgrade pip setuptools wheel
# torch first, pinned (the local wheel mirror serves the CPU build); then aihwkit's build requirements
# (its pyproject: setuptools, scikit-build, pybind11 >= 3.0.1, ninja, cmake >= 4.2.1, mypy) and the runtime
# dependencies the comparison uses, all as wheels. aihwkit itself is installed with --no-deps: its metadata
# also asks for torchvision, which would pull a different torch; the comparison does not use it.
"$PY" -m pip install -q "torch==${TORCH_VERSION}"
"$PY" -m pip install -q "setuptools>=77" wheel "scikit-build>=0.18.1" "pybind11>=3.0.1" ninja "cmake>=4.2.1" mypy \
  numpy scipy scikit-learn "requests>=2.32,<3" tqdm protobuf typing_extensions

SRC="$(mktemp -d)"
# the source distribution (no wheel is published for this platform); --no-build-isolation: its metadata is
# prepared with the tools installed above (an isolated build would compile mypy's build chain from source)
"$PY" -m pip download -q --no-deps --no-build-isolation -d "$SRC" "aihwkit==${AIHWKIT_VERSION}"
export MAKEFLAGS="${MAKEFLAGS:--j2}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
# RPU_BLAS=OpenBLAS is aihwkit's default; CUDA off (CPU machine).
export CMAKE_ARGS="${CMAKE_ARGS:-} -DUSE_CUDA=OFF -DRPU_BLAS=OpenBLAS"
"$PY" -m pip install -v --no-deps --no-build-isolation "$SRC"/aihwkit-"${AIHWKIT_VERSION}".tar.gz
"$PY" -c "import aihwkit, aihwkit.simulator.rpu_base as r; print('aihwkit', aihwkit.__version__, 'rpu_base ok')"
rm -rf "$SRC"
