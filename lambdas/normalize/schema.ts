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
 * Canonicalizes a raw header row, applies the dataset's aliases and detects the template
 * (`template`: already known, a form's from its labels; see form.ts). A header no template
 * matches is still normalized; it is flagged `unknown` in the manifest.
 */
export function resolveHeader(
  dataset: ResolvedDataset,
  rawHeaders: readonly string[],
  template?: NormalizerManifest['template'],
): ResolvedHeader {
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
    template: template ?? detectTemplate(dataset, canonical, columns),
  };
}

/** Templates a table is matched against: forms (`layout: 'form'`) are detected by their labels. */
function tableTemplates(dataset: ResolvedDataset) {
  return dataset.templates.filter((t) => (t.layout ?? 'table') === 'table');
}

function detectTemplate(
  dataset: ResolvedDataset,
  canonicalRaw: readonly string[],
  columns: readonly string[],
): NormalizerManifest['template'] {
  const raw = new Set(canonicalRaw);
  const templates = tableTemplates(dataset);
  for (const template of templates) {
    for (const version of [...template.versions].reverse()) {
      const expected = new Set(version.headers.map((h) => canonicalName(h)));
      if (expected.size === raw.size && [...expected].every((h) => raw.has(h))) {
        return { name: template.name, version: version.version, match: 'exact' };
      }
    }
  }
  const present = new Set(columns);
  const candidates = templates
    .filter((t) => t.requiredColumns.every((c) => present.has(c)))
    .sort((a, b) => b.requiredColumns.length - a.requiredColumns.length);
  const best = candidates[0];
  if (best) return { name: best.name, version: null, match: 'columns' };
  return { name: null, version: null, match: 'unknown' };
}

/** Why a header matched no template, for the flag, the quarantine reason and the alert. */
export interface TemplateMismatch {
  /** The declared template the header comes closest to (null when it shares nothing with any). */
  readonly closestTemplate: string | null;
  /** Required columns of the closest template the header lacks (aliases applied). */
  readonly missingColumns: readonly string[];
  /** Raw headers that name no column of the closest template (every header when there is none). */
  readonly unmatchedHeaders: readonly string[];
}

/**
 * The closest template of a header that matched none: the one with the largest share of its
 * required columns present, then the most header columns in common with any of its versions,
 * then the first declared.
 */
export function templateMismatch(
  dataset: ResolvedDataset,
  rawHeaders: readonly string[],
  columns: readonly string[],
): TemplateMismatch {
  const aliases = aliasMap(dataset);
  const present = new Set(columns);
  let best: { name: string; share: number; common: number; known: Set<string> } | null = null;
  for (const template of tableTemplates(dataset)) {
    const known = new Set<string>(template.requiredColumns);
    for (const version of template.versions) {
      for (const header of version.headers) {
        const name = canonicalName(header);
        known.add(aliases.get(name) ?? name);
      }
    }
    const found = template.requiredColumns.filter((c) => present.has(c)).length;
    const share = template.requiredColumns.length > 0 ? found / template.requiredColumns.length : 0;
    const common = columns.filter((c) => known.has(c)).length;
    if (common === 0) continue;
    if (!best || share > best.share || (share === best.share && common > best.common)) {
      best = { name: template.name, share, common, known };
    }
  }
  const template = best ? dataset.templates.find((t) => t.name === best.name)! : null;
  return {
    closestTemplate: template?.name ?? null,
    missingColumns: template ? template.requiredColumns.filter((c) => !present.has(c)) : [],
    unmatchedHeaders: rawHeaders.filter((_, i) => !best?.known.has(columns[i]!)),
  };
}

const LISTED = 10;
const clipName = (name: string) => (name.length > 40 ? `${name.slice(0, 37)}...` : name);
const listOf = (items: readonly string[], show: (item: string) => string) =>
  items.length === 0
    ? 'none'
    : `${items.slice(0, LISTED).map(show).join(', ')}${items.length > LISTED ? ` and ${items.length - LISTED} more` : ''}`;

/** One sentence (under 500 characters) naming the closest template and the unmatched headers. */
export function describeMismatch(dataset: string, mismatch: TemplateMismatch, sheet: string | null): string {
  const closest = mismatch.closestTemplate
    ? `closest template: ${mismatch.closestTemplate} (missing columns: ${listOf(mismatch.missingColumns, clipName)})`
    : 'no template shares a column with it';
  return (
    `header${sheet !== null ? ` of sheet "${clipName(sheet)}"` : ''} matches no template of ${dataset}; ${closest}; ` +
    `unmatched headers: ${listOf(mismatch.unmatchedHeaders, (h) => JSON.stringify(clipName(h)))}`
  );
}
