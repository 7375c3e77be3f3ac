#!/usr/bin/env bash
# The Helm chart's tests (charts/atelier): lint, render every value set in charts/atelier/ci/,
# validate against the Kubernetes schemas, and the checks in test_chart.py. Needs no helm
# binary and no cluster: Helm's Go SDK comes with helm-python-sdk. Installs the pinned tools
# into the project's .venv when they are missing. Prints one line per failure and a summary.
set -euo pipefail
cd "$(dirname "$0")/../.."

pins=(helm-python-sdk==0.2.2 kubernetes-validate==1.37.0)
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python - "${pins[@]}" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PY
  echo "installing ${pins[*]} into .venv (the chart tests)"
  .venv/bin/pip install -q --no-cache-dir --disable-pip-version-check "${pins[@]}"
fi

cd tests/helm
export PYTHONDONTWRITEBYTECODE=1
exec ../../.venv/bin/python -m unittest -q "$@"
