#!/usr/bin/env node
import { ContextError, createApp } from '../lib/app';
import { DatasetConfigError } from '../lib/config';

// The only place that reads the environment: account and region for `cdk deploy`.
try {
  const env =
    process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
      ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
      : undefined;
  const { app } = createApp({ env });
  app.synth();
} catch (error) {
  // A bad `-c` value or dataset definition is the user's to fix: its message alone, no stack trace.
  if (error instanceof ContextError || error instanceof DatasetConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
