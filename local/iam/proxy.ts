/**
 * The authorizing front of the AWS API emulator: every client of a local run talks to this
 * proxy (127.0.0.1, a port of its own), which identifies the principal by the access key id of
 * the request's SigV4 credential, maps the request to IAM actions (requests.ts), authorizes it
 * (authorizer.ts) and only then forwards it to moto. A denied call gets the error AWS gives,
 * with the HTTP status and error code of the service's protocol, so the SDKs raise their usual
 * error (`AccessDenied`, `AccessDeniedException`, `AuthorizationError`).
 *
 * Signatures are not verified (moto does not either): the access key id names the principal.
 * The admin key (`LOCALADMIN`: provisioning, saving and restoring the state, the alerts inbox)
 * is forwarded without a check, and so is a request without a credential (none of the local
 * clients sends one; moto's own local routes are not AWS APIs). Every other key must belong to
 * a registered principal, or the call is denied as from an unknown principal.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_ACCESS_KEY_ID, type Authorizer, type Decision } from './authorizer';
import { type HttpRequestView, mapRequest, needsBody, type Protocol, signingScope } from './requests';

export interface AuthorizingProxy {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The AccessDenied response of each protocol, as AWS sends it. */
export function deniedResponse(
  service: string,
  protocol: Protocol,
  message: string,
  method: string,
): { status: number; headers: Record<string, string>; body: string } {
  const requestId = `local-${Date.now().toString(36)}`;
  const xml = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  if (service === 's3') {
    // S3: 403 AccessDenied; a HEAD response has no body.
    const body =
      method === 'HEAD'
        ? ''
        : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${xml(message)}</Message><RequestId>${requestId}</RequestId><HostId>local</HostId></Error>`;
    return {
      status: 403,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
      body,
    };
  }
  if (service === 'sns') {
    // SNS (query): 403 AuthorizationError.
    return {
      status: 403,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  if (service === 'sqs') {
    // SQS: 403 AccessDenied (query), the same code through the JSON protocol's query-compatible header.
    if (protocol === 'json') {
      return {
        status: 403,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': 'AccessDenied;Sender',
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message }),
      };
    }
    return {
      status: 403,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${xml(message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  // Glue, Step Functions, KMS, STS (JSON): 400 AccessDeniedException.
  return {
    status: 400,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
    body: JSON.stringify({ __type: 'AccessDeniedException', Message: message, message }),
  };
}

function headerView(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  return headers;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Starts the proxy in front of the emulator at `upstream` (`http://127.0.0.1:<port>`).
 * `onDenied` is told of every denial (progress display).
 */
export async function startAuthorizingProxy(options: {
  readonly upstream: string;
  /** The authorizer once the template is known (before: only the admin's calls are served). */
  readonly authorizer: () => Authorizer | undefined;
  readonly onDenied?: (decision: Extract<Decision, { allowed: false }>) => void;
}): Promise<AuthorizingProxy> {
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) => {
    const headers = { ...req.headers };
    // The emulator sees the admin key: it derives the account from the key, which must not change.
    if (headers.authorization)
      headers.authorization = headers.authorization.replace(
        /Credential=[^/]+\//,
        `Credential=${ADMIN_ACCESS_KEY_ID}/`,
      );
    delete headers.expect;
    if (body) headers['content-length'] = String(body.length);
    const upstreamRequest = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (upstreamResponse) => {
        res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.rawHeaders);
        upstreamResponse.pipe(res);
      },
    );
    upstreamRequest.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`local AWS emulator unreachable: ${error.message}`);
    });
    if (body) upstreamRequest.end(body);
    else req.pipe(upstreamRequest);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const headers = headerView(req);
    const scope = signingScope({ headers, url: req.url ?? '/' });
    if (!scope || scope.accessKeyId === ADMIN_ACCESS_KEY_ID) {
      forward(req, res, undefined);
      return;
    }
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const body = needsBody(scope.service, { method, url }) ? await readBody(req) : undefined;
    const view: HttpRequestView = { method, url, headers, body };
    const authorizer = options.authorizer();
    const mapped = mapRequest(scope.service, view, {
      region: scope.region,
      account: authorizer?.model.account ?? '000000000000',
    });
    const principal = authorizer?.principalOfKey(scope.accessKeyId);
    let decision: Decision;
    if (!authorizer || !principal) {
      decision = {
        allowed: false,
        operation: mapped.operation,
        denial: {
          action: `${mapped.service}:${mapped.operation}`,
          resource: '*',
          reason: 'unknown access key',
        },
        message: `The security token included in the request is invalid: access key ${scope.accessKeyId} belongs to no principal of the local run`,
      };
    } else decision = await authorizer.authorize(principal, mapped);
    if (decision.allowed) {
      forward(req, res, body);
      return;
    }
    options.onDenied?.(decision);
    req.resume();
    const response = deniedResponse(mapped.service, mapped.protocol, decision.message, method);
    res.writeHead(response.status, {
      ...response.headers,
      'content-length': String(Buffer.byteLength(response.body)),
    });
    res.end(response.body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`local authorizer failed: ${error.message}`);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}
