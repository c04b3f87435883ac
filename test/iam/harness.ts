import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { CfnTemplate } from '../../local/cfn';
import { ACCOUNT, LocalCloud, REGION } from '../../local/cloud';
import { type Emulator, startEmulator } from '../../local/emulator';
import { ADMIN_CREDENTIALS, credentialsOf, LocalIam, type LocalPrincipal } from '../../local/iam';
import { type PrincipalClients, principalClients } from '../../local/iam/clients';
import { synthesize } from '../helpers/synth';

/**
 * The emulator behind the authorizing proxy, with the synthesized stack's resources created
 * (as the local runtime does): handler tests call AWS as the role their function has.
 */
export interface IamHarness {
  readonly emulator: Emulator;
  readonly iam: LocalIam;
  readonly cloud: LocalCloud;
  readonly template: CfnTemplate;
  /** Unchecked clients for the test's own setup and assertions. */
  readonly admin: PrincipalClients;
  /** Clients signing as a principal, through the proxy. */
  clientsOf(principal: LocalPrincipal): PrincipalClients;
  stop(): Promise<void>;
}

export async function startIamHarness(template: CfnTemplate = synthesize().json): Promise<IamHarness> {
  const emulator = await startEmulator({ region: REGION, account: ACCOUNT });
  const iam = await LocalIam.start(emulator.endpoint);
  const admin = principalClients(iam.endpoint, REGION, ADMIN_CREDENTIALS);
  // The workflow table and the link key of the template exist in the emulator as on a deploy.
  const tableConfig = { region: REGION, endpoint: iam.endpoint, credentials: ADMIN_CREDENTIALS };
  const tables = { dynamodb: new DynamoDBClient(tableConfig), kms: new KMSClient(tableConfig) };
  const cloud = new LocalCloud(template, { ...admin, tables }, 'ingestion');
  await cloud.provision();
  iam.attach(template, cloud.resolver, { account: ACCOUNT, region: REGION });
  const made: PrincipalClients[] = [admin];
  return {
    emulator,
    iam,
    cloud,
    template,
    admin,
    clientsOf(principal) {
      const clients = principalClients(iam.endpoint, REGION, credentialsOf(principal));
      made.push(clients);
      return clients;
    },
    async stop() {
      for (const clients of made) for (const client of Object.values(clients)) client.destroy();
      tables.dynamodb.destroy();
      tables.kms.destroy();
      await iam.stop();
      await emulator.stop();
    },
  };
}
