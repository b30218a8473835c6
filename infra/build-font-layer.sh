#!/usr/bin/env bash
# Fills infra/font-layer/fonts/ with the PDF font for the PdfFontLayer Lambda layer
# (unzipped to /opt/fonts/ in CarbonFunction). Run before `sam build`.
#
# The font is Noto Sans CJK (SIL Open Font License 1.1) from Debian's fonts-noto-cjk;
# the PDF writer picks the "Noto Sans CJK TC" face of the collection and embeds only
# the glyphs a document uses.
set -euo pipefail
cd "$(dirname "$0")"
src=/usr/share/fonts/opentype/noto
if [ ! -f "$src/NotoSansCJK-Regular.ttc" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-noto-cjk; }
  else
    echo "install fonts-noto-cjk first (apt-get install fonts-noto-cjk)" >&2
    exit 1
  fi
fi
mkdir -p font-layer/fonts
cp "$src/NotoSansCJK-Regular.ttc" "$src/NotoSansCJK-Bold.ttc" font-layer/fonts/
cp /usr/share/doc/fonts-noto-cjk/copyright font-layer/fonts/LICENSE-fonts-noto-cjk.txt 2>/dev/null || true
du -sh font-layer/fonts
