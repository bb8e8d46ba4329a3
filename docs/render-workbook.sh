#!/bin/sh
# Renders the README's pictures of the review workbook from the bundled samples, as LibreOffice
# prints it: docs/review-summary.png (the Summary's first page) and docs/review-plan.png (the Plan
# sheet's first page). Needs soffice (libreoffice-calc-nogui), pdftotext/pdftoppm (poppler-utils)
# and, for Excel's line breaks, the Carlito font (fonts-crosextra-carlito).
#
#   docs/render-workbook.sh
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo run --quiet -- plan samples/ad-users.csv --cloud samples/cloud-users.csv \
  --key-file "$tmp/plan.key" -o "$tmp/plan.xlsx" >/dev/null
soffice --headless -env:UserInstallation="file://$tmp/profile" \
  --convert-to pdf --outdir "$tmp" "$tmp/plan.xlsx" >/dev/null 2>&1

# The first page of a sheet: every page's header names its sheet, between wide gaps.
first_page_of() {
  pages=$(pdfinfo "$tmp/plan.pdf" | awk '/^Pages:/ {print $2}')
  i=1
  while [ "$i" -le "$pages" ]; do
    if pdftotext -layout -f "$i" -l "$i" "$tmp/plan.pdf" - | head -n 1 | grep -q "  $1  "; then
      echo "$i"
      return
    fi
    i=$((i + 1))
  done
  echo "no page of sheet $1 in the PDF" >&2
  exit 1
}

for sheet in Summary Plan; do
  page=$(first_page_of "$sheet")
  name=$(echo "$sheet" | tr '[:upper:]' '[:lower:]')
  pdftoppm -png -r 90 -singlefile -f "$page" -l "$page" "$tmp/plan.pdf" "docs/review-$name"
done
echo "docs/review-summary.png docs/review-plan.png ($(pdfinfo "$tmp/plan.pdf" | awk '/^Pages:/ {print $2}') pages in all)"
