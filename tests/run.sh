#!/usr/bin/env bash
# Runs every test of EcoSphere Carbon, installing what the tests need first.
#
#   bash tests/run.sh
#
# 0. system packages: tesseract-ocr + chi_tra, fonts-noto-cjk, poppler-utils, and for the
#    browser journey chromium, chromium-driver, a Java runtime (apt-get) and the Nu Html
#    Checker (npm package vnu-jar, pinned) under $HOME/.cache/ecosphere/npm;
# 1. Python tools (moto server, cfn-lint, samtranslator, SAM CLI, cargo-lambda, zig)
#    into a virtualenv under $HOME/.cache/ecosphere (reused when present);
# 2. cargo-nextest if the machine lacks it;
# 3. all Rust tests: unit tests, the adapter contract suite on SQLite and on the AWS
#    emulator, the HTTP integration tests, every sample event through its handler;
# 4. the SAM template: samtranslator + cfn-lint, sam validate --lint, crate<->resource
#    check, and the check's self-test;
# 5. `cargo lambda build --release` of every function for the host architecture.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

CACHE=${ECOSPHERE_CACHE:-$HOME/.cache/ecosphere}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
VENV=$CACHE/venv
mkdir -p "$CACHE"
step() { printf '\n==> %s\n' "$*"; }
t0=$SECONDS

step "System packages (OCR, CJK font, PDF tools, browser, HTML checker)"
# Tesseract with Traditional Chinese reads the generated test bills; the Noto CJK font
# renders them; poppler-utils reads the report PDFs back and rasterises scanned PDFs.
need=()
command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx chi_tra || need+=(tesseract-ocr tesseract-ocr-chi-tra)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
# The browser journey (tests/integration/browser.rs): Chromium driven over WebDriver, and
# Java for the Nu Html Checker; npm installs the checker's jar.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; }
  else
    # A fresh machine may have empty package lists: update once and try again.
    { sudo -n apt-get install -y -qq --no-install-recommends "${need[@]}" \
      || { sudo -n apt-get update -qq && sudo -n apt-get install -y -qq --no-install-recommends "${need[@]}"; }; } \
      || { echo "missing system packages: ${need[*]} (run as root or install them)" >&2; exit 1; }
  fi
fi
echo "$(tesseract --version 2>&1 | head -1), chi_tra: $(tesseract --list-langs 2>/dev/null | grep -c chi_tra), $(pdftotext -v 2>&1 | head -1)"

# The Nu Html Checker, pinned; --ignore-scripts: its postinstall would fetch a Java
# runtime from outside the registry, and the Debian one is used instead.
VNU_VERSION=26.9.27
export VNU_JAR=${VNU_JAR:-$CACHE/npm/node_modules/vnu-jar/build/dist/vnu.jar}
if [ ! -f "$VNU_JAR" ] || [ "$(cat "$CACHE/npm/.vnu-version" 2>/dev/null)" != "$VNU_VERSION" ]; then
  mkdir -p "$CACHE/npm"
  npm install --prefix "$CACHE/npm" --ignore-scripts --no-audit --no-fund --silent "vnu-jar@$VNU_VERSION"
  echo "$VNU_VERSION" > "$CACHE/npm/.vnu-version"
fi
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
echo "$(chromium --version 2>/dev/null | head -1), $("$CHROMEDRIVER" --version 2>/dev/null | cut -d' ' -f1-2), $(java -version 2>&1 | head -1), vnu.jar $VNU_VERSION"

step "Python tools ($VENV)"
if ! "$VENV/bin/python" -c 'import moto, cfnlint, samtranslator, ziglang' 2>/dev/null \
   || [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cargo-lambda" ] || [ ! -x "$VENV/bin/moto_server" ] \
   || ! cmp -s tests/requirements.txt "$VENV/.requirements.txt"; then
  if ! python3 -m venv --help >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && { apt-get update -qq && apt-get install -y -qq python3-venv; }
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -r tests/requirements.txt
  cp tests/requirements.txt "$VENV/.requirements.txt"
fi
export PATH="$VENV/bin:$PATH"
export MOTO_PYTHON="$VENV/bin/python"
export SAM_CLI_TELEMETRY=0
echo "moto $("$VENV/bin/python" -c 'import moto; print(moto.__version__)'), $(cargo lambda --version), $(sam --version)"

if ! cargo nextest --version >/dev/null 2>&1; then
  step "Installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

step "Rust tests (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
t=$SECONDS
cargo nextest run --workspace --no-fail-fast --failure-output final
echo "rust tests: $((SECONDS - t)) s"

step "SAM template checks"
python infra/check_template.py
python infra/check_template.py --self-test

step "cargo lambda build --release (host architecture)"
t=$SECONDS
bins=()
for crate in functions/*/; do
  bins+=(--bin "$(basename "$crate")")
done
cargo lambda build --release "${bins[@]}"
for crate in functions/*/; do
  name=$(basename "$crate")
  f="$CARGO_TARGET_DIR/lambda/$name/bootstrap"
  [ -x "$f" ] || { echo "missing Lambda binary $f"; exit 1; }
  echo "built $f ($(du -h "$f" | cut -f1))"
done
echo "lambda build: $((SECONDS - t)) s"

echo
echo "all tests passed in $((SECONDS - t0)) s"
