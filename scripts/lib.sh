# Shared by scripts/demo and scripts/test: the project's virtualenv and the Pulumi CLI, set up on demand.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

ensure_venv() {
    local python=${PYTHON:-python3}
    command -v "$python" >/dev/null 2>&1 || { log "error: $python is not installed; Python 3.11 or newer is needed."; exit 1; }
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { log "error: $("$python" --version 2>&1) is too old; Python 3.11 or newer is needed."; exit 1; }
    local stamp="$VENV/.ardent-installed" wanted
    # The generated Python SDK (sdk/python, the native provider's ardent.ApiKey) is installed beside the package.
    wanted=$(cat "$ROOT/pyproject.toml" "$ROOT/sdk/python/pyproject.toml" | sha256sum | cut -d' ' -f1)
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating the virtualenv in .venv"
        "$python" -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        log "installing ardent-provider and its development tools into .venv"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]" -e "$ROOT/sdk/python"
        echo "$wanted" >"$stamp"
    fi
}

ensure_pulumi() {
    local bin_dir
    bin_dir=$("$ROOT/scripts/setup-pulumi" | tail -n 1)
    export ARDENT_PULUMI_BIN_DIR="$bin_dir"
    export PATH="$bin_dir:$VENV/bin:$PATH"
    export PULUMI_SKIP_UPDATE_CHECK=true
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
}
