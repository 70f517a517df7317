#!/usr/bin/env bash
# Developer shortcut: build the extension in release mode and copy it over an installed copy.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --quiet
so=$("${PYTHON:-../.venv/bin/python}" -c "import privlog_native._native as m; print(m.__file__)")
cp target/release/lib_native.so "$so"
