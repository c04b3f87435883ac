import { canonicalHeaderRow, canonicalName } from '../../lib/config/canonical';
import type { ResolvedDataset } from '../../lib/config/types';
import type { NormalizerManifest } from '../../lib/contracts/manifest';

export interface ResolvedHeader {
  /** Output column per input position (canonical, aliases applied, de-duplicated). */
  readonly columns: readonly string[];
  readonly unknownColumns: readonly string[];
  readonly template: NormalizerManifest['template'];
}

/** Maps canonical alias -> canonical column for a dataset. */
export function aliasMap(dataset: ResolvedDataset): Map<string, string> {
  const map = new Map<string, string>();
  for (const column of dataset.columns) {
    map.set(column.name, column.name);
    for (const alias of column.aliases ?? []) map.set(canonicalName(alias), column.name);
  }
  return map;
}

/**
 * Canonicalizes a raw header row, applies the dataset's aliases and detects the template.
 * A header no template matches is still normalized; it is flagged `unknown` in the manifest.
 */
export function resolveHeader(dataset: ResolvedDataset, rawHeaders: readonly string[]): ResolvedHeader {
  const aliases = aliasMap(dataset);
  const canonical = canonicalHeaderRow(rawHeaders);
  const used = new Set<string>();
  const columns = canonical.map((name) => {
    let column = aliases.get(name) ?? name;
    // Two raw headers that alias to one column keep both: the second gets a suffix.
    for (let n = 2; used.has(column); n++) column = `${aliases.get(name) ?? name}_${n}`;
    used.add(column);
    return column;
  });
  const declared = new Set(dataset.columns.map((c) => c.name));
  return {
    columns,
    unknownColumns: columns.filter((c) => !declared.has(c)),
    template: detectTemplate(dataset, canonical, columns),
  };
}

function detectTemplate(
  dataset: ResolvedDataset,
  canonicalRaw: readonly string[],
  columns: readonly string[],
): NormalizerManifest['template'] {
  const raw = new Set(canonicalRaw);
  for (const template of dataset.templates) {
    for (const version of [...template.versions].reverse()) {
      const expected = new Set(version.headers.map((h) => canonicalName(h)));
      if (expected.size === raw.size && [...expected].every((h) => raw.has(h))) {
        return { name: template.name, version: version.version, match: 'exact' };
      }
    }
  }
  const present = new Set(columns);
  const candidates = dataset.templates
    .filter((t) => t.requiredColumns.every((c) => present.has(c)))
    .sort((a, b) => b.requiredColumns.length - a.requiredColumns.length);
  const best = candidates[0];
  if (best) return { name: best.name, version: null, match: 'columns' };
  return { name: null, version: null, match: 'unknown' };
}
