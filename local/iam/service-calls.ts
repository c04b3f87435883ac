/**
 * Permissions AWS services use as a role of the template when they work for the pipeline, in
 * calls the local runtime makes in process (no HTTP request reaches the emulator for them).
 */

/**
 * A crawler in S3 event mode uses its event queue and dead-letter queue as the crawler role:
 * Glue's documentation lists these SQS actions for the crawler role's policy ("Accelerating
 * crawls using Amazon S3 event notifications", section "Setting up your account for Amazon S3
 * event notifications": https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-event-notifications.html).
 * The local runtime checks all of them when a crawl starts (which of them Glue calls on a given
 * crawl is not documented; the documented policy is what the role must allow).
 */
export const GLUE_CRAWLER_EVENT_MODE_SQS_ACTIONS = [
  'sqs:DeleteMessage',
  'sqs:GetQueueUrl',
  'sqs:ListDeadLetterSourceQueues',
  'sqs:ReceiveMessage',
  'sqs:GetQueueAttributes',
  'sqs:ListQueueTags',
  'sqs:SetQueueAttributes',
  'sqs:PurgeQueue',
] as const;
