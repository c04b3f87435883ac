/**
 * Header canonicalization shared by config validation and the normalizer, so that an
 * alias declared in config and a header found in a file are compared in the same form.
 *
 * `canonicalName` trims, drops a trailing unit in brackets ("Cost (USD)" -> "Cost"),
 * splits camelCase ("BilledCost" -> "Billed Cost"), case-folds and turns every run of
 * characters that are not letters or digits into one underscore.
 */

const TRAILING_UNIT = /\s*[([{][^()[\]{}]*[)\]}]\s*$/u;

export function canonicalName(header: string): string {
  let text = header
    .normalize('NFKC')
    .replace(/^\uFEFF/, '')
    .trim();
  // A unit in brackets at the end is not part of the name, unless it is all there is.
  const withoutUnit = text.replace(TRAILING_UNIT, '');
  if (withoutUnit.trim() !== '') text = withoutUnit;
  text = text
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1_$2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1_$2')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '_')
    .replace(/^_+|_+$/g, '');
  return text;
}

/**
 * Canonical names for a whole header row: duplicates get a numeric suffix
 * (`amount`, `amount_2`, ...) and empty headers become `column_<n>` (1-based position).
 */
export function canonicalHeaderRow(headers: readonly string[]): string[] {
  const used = new Set<string>();
  return headers.map((header, index) => {
    const base = canonicalName(header) || `column_${index + 1}`;
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    return name;
  });
}
