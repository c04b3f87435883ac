/**
 * Cross-template rules (pure): for each partition the batch touched, the ETL's partition
 * aggregates give the exact sum of the rule's measure per template and group over the whole
 * curated partition. A group present on both sides passes when the sums agree within the
 * rule's tolerance and fails otherwise; a group present on one side only is `pending` (the
 * other template has not arrived yet), never a discrepancy.
 */
import type { CrossTemplateRuleConfig, ResolvedDataset } from '../../lib/config/types';
import { aggregatesKey } from '../../lib/contracts/layout';
import type { ReconciliationCheck } from '../../lib/contracts/reconciliation';
import {
  ETL_DOCUMENT_VERSION,
  type PartitionAggregates,
  schemaVersionOf,
} from '../../lib/contracts/run-report';
import { Decimal } from '../common/decimal';

interface GroupSums {
  readonly scope: Record<string, string>;
  left: Decimal | undefined;
  right: Decimal | undefined;
}

export function crossTemplateChecks(
  dataset: ResolvedDataset,
  aggregates: ReadonlyMap<string, PartitionAggregates | undefined>,
): ReconciliationCheck[] {
  const checks: ReconciliationCheck[] = [];
  const partitions = [...aggregates.keys()].sort();
  for (const rule of dataset.reconciliation.crossTemplateRules) {
    for (const partition of partitions) {
      checks.push(...ruleChecks(dataset, rule, partition, aggregates.get(partition)));
    }
  }
  return checks;
}

function ruleChecks(
  dataset: ResolvedDataset,
  rule: CrossTemplateRuleConfig,
  partition: string,
  document: PartitionAggregates | undefined,
): ReconciliationCheck[] {
  const partitionColumn = dataset.partition.column;
  const check = `cross_template:${rule.name}`;
  const tolerance = rule.tolerance ?? '0';
  // Aggregates of schema version 1 summed the table before it became an Iceberg table: stale.
  const version = schemaVersionOf(document);
  const current = version === ETL_DOCUMENT_VERSION;
  const ruleDocument = current ? document?.rules.find((r) => r.rule === rule.name) : undefined;
  if (!ruleDocument) {
    return [
      {
        check,
        status: 'fail',
        scope: { [partitionColumn]: partition },
        expected: null,
        actual: null,
        delta: null,
        tolerance,
        detail: !document
          ? `The ETL wrote no control totals for ${partitionColumn} ${partition} (${aggregatesKey(dataset.name, partition)}); rule ${rule.name} cannot be evaluated.`
          : !current
            ? `The ETL's control totals for ${partitionColumn} ${partition} (${aggregatesKey(dataset.name, partition)}) have schemaVersion ${JSON.stringify(version)}, not ${ETL_DOCUMENT_VERSION}: they were not rewritten after the batch was merged; rule ${rule.name} cannot be evaluated.`
            : `The ETL's control totals for ${partitionColumn} ${partition} do not include rule ${rule.name}; it cannot be evaluated.`,
      },
    ];
  }
  const groups = new Map<string, GroupSums>();
  for (const entry of ruleDocument.sums) {
    const side =
      entry.template === rule.left.template
        ? 'left'
        : entry.template === rule.right.template
          ? 'right'
          : null;
    if (!side) continue;
    const values = rule.groupBy.map((column) =>
      column === partitionColumn ? (entry.group[column] ?? partition) : (entry.group[column] ?? null),
    );
    const id = JSON.stringify(values);
    let group = groups.get(id);
    if (!group) {
      const scope: Record<string, string> = {};
      rule.groupBy.forEach((column, i) => {
        scope[column] = values[i] ?? '';
      });
      if (!rule.groupBy.includes(partitionColumn)) scope[partitionColumn] = partition;
      group = { scope, left: undefined, right: undefined };
      groups.set(id, group);
    }
    group[side] = (group[side] ?? Decimal.ZERO).add(Decimal.parse(entry.sum));
  }
  const left = rule.left.template;
  const right = rule.right.template;
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, group]): ReconciliationCheck => {
      const base = { check, scope: group.scope, tolerance };
      if (group.left === undefined || group.right === undefined) {
        const [present, missing, sum] =
          group.left === undefined ? [right, left, group.right!] : [left, right, group.left];
        return {
          ...base,
          status: 'pending',
          expected: group.right?.toString() ?? null,
          actual: group.left?.toString() ?? null,
          delta: null,
          detail: `No ${missing} data for this group yet: sum of ${rule.measure} in ${present} is ${sum.toString()}; the rule is evaluated again when ${missing} arrives.`,
        };
      }
      const delta = group.left.sub(group.right);
      const pass = delta.abs().compare(Decimal.parse(tolerance)) <= 0;
      return {
        ...base,
        status: pass ? 'pass' : 'fail',
        expected: group.right.toString(),
        actual: group.left.toString(),
        delta: delta.toString(),
        detail: pass
          ? `Sum of ${rule.measure}: ${left} ${group.left.toString()} agrees with ${right} ${group.right.toString()}.`
          : `Sum of ${rule.measure}: ${left} ${group.left.toString()} vs ${right} ${group.right.toString()} ` +
            `(${rule.description}); they differ by ${delta.toString()}.`,
      };
    });
}
