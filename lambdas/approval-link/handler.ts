/** The approval-link function's entry point (the code is in lambdas/approvals/link-handler.ts). */
export { handler, makeApprovalLinkHandler } from '../approvals/link-handler';
