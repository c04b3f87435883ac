#!/usr/bin/env node
import { createApp } from '../lib/app';
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
  if (error instanceof DatasetConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
