#!/bin/sh
# Draws Icon.png (512×512): a stepped plinth carrying a block, on a rounded
# blue tile. Needs ImageMagick. The PNG is committed; run this only to change it.
set -eu
cd "$(dirname "$0")/.."
convert -size 512x512 xc:none \
  -fill '#1F4E79' -draw 'roundrectangle 16,16 496,496 96,96' \
  -fill '#F2F2F2' -draw 'rectangle 96,372 416,420' \
  -fill '#DADADA' -draw 'rectangle 128,324 384,372' \
  -fill '#C2C2C2' -draw 'rectangle 160,284 352,324' \
  -fill '#FFC83D' -draw 'rectangle 196,120 316,284' \
  -fill '#1F4E79' -draw 'rectangle 222,150 244,178' -draw 'rectangle 268,150 290,178' \
  -draw 'rectangle 222,200 244,228' -draw 'rectangle 268,200 290,228' \
  -strip PNG32:Icon.png
