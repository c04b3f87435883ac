import '../local/polyfills';

/*
 * Quiet test output: passing tests print nothing but vitest's own report.
 * - The handlers' Powertools logger writes one JSON line per log call, including ERROR lines
 *   (with stack traces) for the failures tests provoke on purpose. The level is read when a
 *   handler module creates its logger, which happens after this file runs. Set
 *   POWERTOOLS_LOG_LEVEL=DEBUG to see the logs while debugging a test.
 * - The handlers' Powertools metrics write EMF lines to stdout: off (POWERTOOLS_METRICS_DISABLED)
 *   unless a test turns them on to read them (test/common/metrics.test.ts).
 * - The AWS SDK warns once per process that its releases after January 2027 need Node 22.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
