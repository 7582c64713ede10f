# Shared by scripts/demo and scripts/test: the project's virtualenv and the Pulumi CLI, set up on demand.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# venv_python DIR: the interpreter of the virtualenv at DIR, bin/python on Linux and macOS, Scripts/python.exe on
# Windows (Git Bash); bin/python when DIR holds none yet.
venv_python() {
    if [ ! -x "$1/bin/python" ] && [ -x "$1/Scripts/python.exe" ]; then
        echo "$1/Scripts/python.exe"
    else
        echo "$1/bin/python"
    fi
}
# The project's virtualenv's interpreter (ensure_venv creates it).
VENV_PYTHON=$(venv_python "$VENV")

# sha256 FILE...: the SHA-256 of each file as sha256sum prints it; macOS has only shasum.
sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

ensure_venv() {
    local python=${PYTHON:-python3}
    command -v "$python" >/dev/null 2>&1 || { log "error: $python is not installed; Python 3.11 or newer is needed."; exit 1; }
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { log "error: $("$python" --version 2>&1) is too old; Python 3.11 or newer is needed."; exit 1; }
    local stamp="$VENV/.ardent-installed" wanted
    # The generated Python SDK (sdk/python, the native provider's ardent.ApiKey) is installed beside the package.
    wanted=$(cat "$ROOT/pyproject.toml" "$ROOT/sdk/python/pyproject.toml" | sha256 - | cut -d' ' -f1)
    VENV_PYTHON=$(venv_python "$VENV")
    if [ ! -x "$VENV_PYTHON" ]; then
        log "creating the virtualenv in .venv"
        "$python" -m venv "$VENV"
        VENV_PYTHON=$(venv_python "$VENV")
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        log "installing ardent-provider and its development tools into .venv"
        "$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check -e "${ROOT}[dev]" -e "$ROOT/sdk/python"
        echo "$wanted" >"$stamp"
    fi
}

ensure_pulumi() {
    local bin_dir
    bin_dir=$("$ROOT/scripts/setup-pulumi" | tail -n 1)
    export ARDENT_PULUMI_BIN_DIR="$bin_dir"
    local venv_bin
    venv_bin=$(dirname "$VENV_PYTHON")
    export PATH="$bin_dir:$venv_bin:$PATH"
    export PULUMI_SKIP_UPDATE_CHECK=true
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
}
