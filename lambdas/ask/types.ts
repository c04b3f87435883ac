/**
 * Conversational data access (issue 14, docs/ask.md): the types shared by the offline engine
 * (parser.ts, sql.ts), the guardrail (guardrail.ts), the local command (local/ask.ts) and the AWS
 * engine (handler.ts: Athena, optionally Amazon Bedrock).
 */

/** A column of a curated table as the engines see it. */
export interface AskColumn {
  readonly name: string;
  /** Athena/Trino type name as in the catalog: `string`, `decimal(38,6)`, `timestamp`, `date`, `bigint`, ... */
  readonly type: string;
  readonly description?: string;
  /** Words people use for it: the header aliases of the dataset config, canonical and raw. */
  readonly synonyms: readonly string[];
  /** Distinct values of a low-cardinality string column (statuses, org units, services), when known. */
  readonly values?: readonly string[];
}

/** A curated table the engines may read. */
export interface AskTable {
  /** The table's name in the catalog (the dataset name). */
  readonly name: string;
  readonly description: string;
  readonly columns: readonly AskColumn[];
  /** The dataset's measures (summed by "total", "how much"). */
  readonly measures: readonly string[];
  /** The column time expressions filter on ("last 5 days", "October 2024"), if any. */
  readonly timeColumn?: string;
}

export interface AskCatalog {
  /** Database the tables are in (Athena needs it; the local engine accepts bare names). */
  readonly database: string;
  readonly tables: readonly AskTable[];
}

/** The offline parser's reading of a question: SQL built from a structure, or a refusal. */
export type Interpretation =
  | {
      readonly kind: 'answer';
      /** The interpretation in words ("Total billed_cost by service_name for October 2024"). */
      readonly interpretation: string;
      readonly sql: string;
      /** Tables the SQL reads. */
      readonly tables: readonly string[];
    }
  | {
      readonly kind: 'refusal';
      /** Why it cannot answer, in words. */
      readonly message: string;
      /** Questions it can answer about the tables it recognized (or all tables). */
      readonly suggestions: readonly string[];
    };

/** What the guardrail decides about a SQL text. */
export type GuardrailVerdict =
  | {
      readonly ok: true /** The SQL to run: the input with the row limit applied. */;
      readonly sql: string;
      readonly tables: readonly string[];
    }
  | { readonly ok: false /** Why it is refused, in words (shown to the user). */; readonly message: string };

export interface GuardrailLimits {
  /** Most rows an answer returns (a LIMIT is added, or a larger one lowered). @default 1000 */
  readonly maxRows: number;
}

/** How fresh a table an answer used is. */
export interface TableFreshness {
  readonly table: string;
  /** When the newest file of the dataset landed (ISO), null when none has. */
  readonly latestLanding: string | null;
  /** The last ETL run that committed: id, when it finished, the snapshot. */
  readonly lastSuccessfulRun: {
    readonly runId: string;
    readonly finishedAt: string;
    readonly snapshotId: string | null;
  } | null;
  /** Normalized files not merged into curated yet (landed, not in the answer). */
  readonly filesInFlight: number;
  /** Files of the dataset held in quarantine. */
  readonly filesQuarantined: number;
}

/** Runs a checked SQL text: the local engine (DuckDB over the state folder) or Athena. */
export interface QueryExecutor {
  run(sql: string): Promise<{ readonly columns: string[]; readonly rows: unknown[][] }>;
}

/** The answer `pipeline ask --json` prints and the AWS engine returns. */
export interface AskAnswer {
  readonly question: string;
  /** The interpretation in words; on a refusal, why. */
  readonly interpretation: string;
  /** The SQL run (null on a refusal). */
  readonly sql: string | null;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
  readonly freshness: readonly TableFreshness[];
  /** Which engine read the question: the offline parser, or the model (AWS, when configured). */
  readonly engine: 'offline' | 'bedrock';
  /** Set when the question was not answered: the suggestions of questions it can answer. */
  readonly refused?: { readonly message: string; readonly suggestions: readonly string[] };
}
