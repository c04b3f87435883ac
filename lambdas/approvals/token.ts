/**
 * Decision links: `<payload>.<mac>`, both base64url. The payload names the request, the version
 * the approver saw, the link's nonce and its expiry; the MAC is an HMAC-SHA-256 computed by AWS
 * KMS with an HMAC key (KeySpec HMAC_256, KeyUsage GENERATE_VERIFY_MAC) whose key material never
 * leaves KMS (GenerateMac / VerifyMac, https://docs.aws.amazon.com/kms/latest/developerguide/hmac.html).
 * So a link cannot be forged or altered without the key; it is single-use because the workflow
 * table accepts a decision only while the request's open link has that nonce (a decision clears
 * it), and it expires at `expiresAt`.
 */
import { GenerateMacCommand, type KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';

export const MAC_ALGORITHM = 'HMAC_SHA_256';

export interface LinkClaims {
  readonly dataset: string;
  readonly requestId: string;
  readonly sourceId: string;
  readonly nonce: string;
  /** ISO time the link stops working. */
  readonly expiresAt: string;
}

export class InvalidLinkError extends Error {
  override readonly name = 'InvalidLinkError';
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

export async function mintLinkToken(kms: KMSClient, keyId: string, claims: LinkClaims): Promise<string> {
  const message = Buffer.from(
    JSON.stringify({
      d: claims.dataset,
      r: claims.requestId,
      s: claims.sourceId,
      n: claims.nonce,
      e: claims.expiresAt,
    }),
  );
  const response = await kms.send(
    new GenerateMacCommand({ KeyId: keyId, MacAlgorithm: MAC_ALGORITHM, Message: message }),
  );
  if (!response.Mac) throw new Error('KMS GenerateMac returned no MAC');
  return `${b64url(message)}.${b64url(response.Mac)}`;
}

/** The claims of a genuine link; InvalidLinkError for anything else (malformed, altered, other key). */
export async function verifyLinkToken(kms: KMSClient, keyId: string, token: string): Promise<LinkClaims> {
  const match = /^([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{1,512})$/.exec(token.trim());
  if (!match) throw new InvalidLinkError('the link is malformed (it may have been cut or altered)');
  const message = Buffer.from(match[1], 'base64url');
  const mac = Buffer.from(match[2], 'base64url');
  let valid = false;
  try {
    const response = await kms.send(
      new VerifyMacCommand({ KeyId: keyId, MacAlgorithm: MAC_ALGORITHM, Message: message, Mac: mac }),
    );
    valid = response.MacValid === true;
  } catch (error) {
    // KMS answers KMSInvalidMacException for a MAC that does not verify.
    if ((error as Error).name !== 'KMSInvalidMacException') throw error;
  }
  if (!valid) throw new InvalidLinkError('the link is not genuine (its signature does not verify)');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(message.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new InvalidLinkError('the link is malformed');
  }
  const field = (name: string) => {
    const value = parsed[name];
    if (typeof value !== 'string' || value === '') throw new InvalidLinkError('the link is malformed');
    return value;
  };
  return {
    dataset: field('d'),
    requestId: field('r'),
    sourceId: field('s'),
    nonce: field('n'),
    expiresAt: field('e'),
  };
}
