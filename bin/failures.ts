import { VouchError } from '#core/errors.ts';
import { type CallContext, callContextOf, resourceOf } from './call-context.ts';
import { EXIT, type ExitCode, UsageError } from './cli.ts';

/** One line saying what failed, the likely cause and the next step, and the exit code it means. */
export interface Failure {
  readonly message: string;
  readonly exit: ExitCode;
}

export interface FailureOptions {
  /** For `npm start`: the option that sets each port, so "port in use" can say which one to change. */
  readonly portOptions?: Readonly<Record<number, string>>;
}

/** Where each AWS service's endpoint override lives, as the SDK reads it. */
const ENDPOINT_VARIABLES: Record<string, string> = {
  S3: 'AWS_ENDPOINT_URL_S3',
  DynamoDB: 'AWS_ENDPOINT_URL_DYNAMODB',
  KMS: 'AWS_ENDPOINT_URL_KMS',
};

/** Variables naming Vouch's resources, and the stack output each one comes from. */
const RESOURCE_VARIABLES: Record<string, string> = {
  VOUCH_STAGING_BUCKET: 'StagingBucketName',
  VOUCH_DEPLOYMENT_BUCKET: 'DeploymentBucketName',
  VOUCH_RECORDS_TABLE: 'RecordsTableName',
  VOUCH_INDEX_TABLE: 'IndexTableName',
  VOUCH_KEYS_TABLE: 'KeysTableName',
  VOUCH_SIGNING_KEY_ALIAS: 'SigningKeyAlias',
  VOUCH_VSA_KEY_ID: 'VsaKeyAlias',
  VOUCH_ROTATION_FUNCTION: 'RotationFunctionName',
};

const REGISTRY_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

const LOCAL_STACK_HINT = 'is `npm start` running? Start it, then `source .vouch/env`';

const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException',
]);

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'Forbidden', 'AuthorizationError']);
const BAD_CREDENTIALS = new Set([
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'IncompleteSignature',
]);
const EXPIRED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'TokenRefreshRequired',
]);

/** IAM actions behind the operations the CLI calls, where the operation name is not the action. */
const IAM_ACTIONS: Record<string, string> = {
  'S3:HeadObject': 's3:GetObject',
  'S3:CreateMultipartUpload': 's3:PutObject',
  'S3:UploadPart': 's3:PutObject',
  'S3:CompleteMultipartUpload': 's3:PutObject',
  'S3:ListObjectsV2': 's3:ListBucket',
};

/**
 * Maps anything a command throws to one line and an exit code. Verdicts never come through here (they
 * are results); this is for mistakes (2), infrastructure that failed or refused (3), and bugs (4).
 */
export function describeFailure(
  error: unknown,
  env: NodeJS.ProcessEnv,
  options: FailureOptions = {},
): Failure {
  if (error instanceof UsageError) return { message: error.message, exit: EXIT.usage };
  // A core input check (a PEM, a policy, a digest) that was not caught closer to its input.
  if (error instanceof VouchError) return { message: error.message, exit: EXIT.usage };
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown> & {
    name?: string;
    message?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number; attempts?: number };
    $fault?: string;
  };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const call = callContextOf(error);
  const what = call ? `${call.service} ${call.operation}${onResource(call)}` : 'an AWS request';

  if (e.code === 'EADDRINUSE') {
    const port = typeof e.port === 'number' ? e.port : Number(/:(\d+)$/.exec(message)?.[1]);
    const option = options.portOptions?.[port];
    return unavailable(
      `port ${port} is already in use${typeof e.address === 'string' ? ` on ${e.address}` : ''} — is another \`npm start\` running? Stop it${option ? `, or choose another port with ${option}` : ''}`,
    );
  }
  if (typeof e.code === 'string' && e.code in CONNECTION_CODES) {
    const service = call?.service ?? serviceByPort(env, e.port) ?? 'AWS';
    const endpoint = endpointOf(service, env, e);
    const local =
      endpoint !== undefined &&
      /^(https?:\/\/)?(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)(:|\/|$)/.test(endpoint);
    return unavailable(
      `cannot reach ${service}${endpoint ? ` at ${endpoint}` : ''} (${CONNECTION_CODES[e.code]}) — ${
        local
          ? LOCAL_STACK_HINT
          : `check the network, AWS_REGION and ${ENDPOINT_VARIABLES[service] ?? 'AWS_ENDPOINT_URL'}`
      }`,
    );
  }
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.name === 'RequestTimeoutException') {
    return unavailable(`${what} timed out — check the network, then run the command again`);
  }
  if (message === 'Region is missing' || e.name === 'RegionMissing') {
    return unavailable(
      'no AWS region is configured — set AWS_REGION (or AWS_PROFILE with a region); for the local stack, `source .vouch/env`',
    );
  }
  if (e.name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return unavailable(
      'no AWS credentials found — sign in (`aws sso login`, or a role: in GitHub Actions, aws-actions/configure-aws-credentials) or set AWS_PROFILE; for the local stack, `source .vouch/env`',
    );
  }
  if (typeof e.name === 'string' && EXPIRED_CREDENTIALS.has(e.name)) {
    return unavailable(`${what}: the AWS credentials have expired — sign in again or assume the role again`);
  }
  if (typeof e.name === 'string' && BAD_CREDENTIALS.has(e.name)) {
    return unavailable(
      `${what}: AWS did not accept the credentials (${e.name}) — check AWS_PROFILE / AWS_ACCESS_KEY_ID and that they belong to this account and region; for the local stack, \`source .vouch/env\``,
    );
  }
  if (
    e.name === 'NoSuchBucket' ||
    (call?.bucket !== undefined && e.name === 'NotFound' && call.key === undefined)
  ) {
    return unavailable(
      `bucket ${call?.bucket ?? ''} does not exist${regionOf(env)} — ${variableHint(call?.bucket, env, 'check --bucket')}`,
    );
  }
  if (e.name === 'ResourceNotFoundException' && call?.table !== undefined) {
    return unavailable(
      `table ${call.table} does not exist${regionOf(env)} — ${variableHint(call.table, env, 'check the table name')}`,
    );
  }
  if (e.name === 'NotFoundException' && call?.service === 'KMS') {
    return unavailable(
      `KMS key ${call.kmsKey ?? ''} does not exist${regionOf(env)} — ${variableHint(call.kmsKey, env, 'check --key')}; a new stack's first signing key comes from \`cdk deploy\` or \`vouch keys rotate\``,
    );
  }
  if (e.name === 'DisabledException') {
    return unavailable(
      `${what}: the KMS key is disabled (a retired signing key?) — sign through the signing alias, which names the current key`,
    );
  }
  if (e.name === 'KMSInvalidStateException') {
    return unavailable(
      `${what}: the KMS key is pending deletion or not usable — sign through the signing alias`,
    );
  }
  if (
    (typeof e.name === 'string' && ACCESS_DENIED.has(e.name)) ||
    (e.$metadata?.httpStatusCode === 403 && call !== undefined)
  ) {
    const action = call
      ? (IAM_ACTIONS[`${call.service}:${call.operation}`] ??
        `${call.service === 'DynamoDB' ? 'dynamodb' : call.service.toLowerCase()}:${call.operation}`)
      : undefined;
    if (
      call?.table !== undefined &&
      call.table === env.VOUCH_KEYS_TABLE &&
      REGISTRY_WRITES.has(call.operation)
    )
      return unavailable(
        `access denied: ${what} — in AWS only the rotation function writes the key registry (the table's policy refuses everyone else): set VOUCH_ROTATION_FUNCTION to the stack output RotationFunctionName and run the command again`,
      );
    return unavailable(
      `access denied: ${what}${action ? ` needs ${action}` : ''} — the credentials in use lack it (${firstSentence(message)}); pipelines write only their UploaderPrefix with the uploader role, deployers need DeployerPolicyArn`,
    );
  }
  if (typeof e.name === 'string' && THROTTLING.has(e.name)) {
    const attempts = e.$metadata?.attempts;
    return unavailable(
      `${what} was throttled${attempts ? ` (${attempts} attempts)` : ''} — the account's request rate for ${call?.service ?? 'the service'} is exhausted; run the command again later, with fewer running at once`,
    );
  }
  if (e.$metadata !== undefined) {
    const side = e.$fault === 'server' || (e.$metadata.httpStatusCode ?? 0) >= 500 ? ' on the AWS side' : '';
    return unavailable(`${what} failed${side}: ${e.name ?? 'Error'}: ${firstSentence(message)}`);
  }
  if (typeof e.code === 'string' && typeof e.syscall === 'string') {
    const path = typeof e.path === 'string' ? ` ${e.path}` : '';
    const reason = message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    const fixable = ['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EEXIST', 'EROFS'].includes(e.code);
    return {
      message: `cannot ${e.syscall}${path}: ${reason}`,
      exit: fixable ? EXIT.usage : EXIT.unavailable,
    };
  }
  return {
    message: `internal error: ${message} — run again with VOUCH_DEBUG=1 for the stack trace, and report it`,
    exit: EXIT.internal,
  };
}

const unavailable = (message: string): Failure => ({ message, exit: EXIT.unavailable });

const onResource = (call: CallContext) => {
  const resource = resourceOf(call);
  return resource ? ` on ${resource}` : '';
};

const firstSentence = (text: string) => (text.split(/(?<=\.)\s/)[0] ?? text).replace(/\.$/, '');

const regionOf = (env: NodeJS.ProcessEnv) => {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return region ? ` in ${region}` : '';
};

/** "$VOUCH_RECORDS_TABLE is set to it: use the stack output RecordsTableName", or the fallback advice. */
function variableHint(name: string | undefined, env: NodeJS.ProcessEnv, fallback: string): string {
  const variable = Object.keys(RESOURCE_VARIABLES).find((v) => name !== undefined && env[v] === name);
  if (!variable) return `${fallback} (for the local stack, \`source .vouch/env\`)`;
  return `$${variable} names it: set it to the stack output ${RESOURCE_VARIABLES[variable]} (for the local stack, \`source .vouch/env\`)`;
}

/** The service whose configured endpoint is on this port, for an error that carries no call context. */
function serviceByPort(env: NodeJS.ProcessEnv, port: unknown): string | undefined {
  if (typeof port !== 'number') return undefined;
  return Object.keys(ENDPOINT_VARIABLES).find((service) => {
    const url = env[ENDPOINT_VARIABLES[service] as string];
    return url !== undefined && URL.canParse(url) && Number(new URL(url).port) === port;
  });
}

function endpointOf(
  service: string,
  env: NodeJS.ProcessEnv,
  error: Record<string, unknown>,
): string | undefined {
  const variable = ENDPOINT_VARIABLES[service];
  const configured = (variable ? env[variable] : undefined) ?? env.AWS_ENDPOINT_URL;
  if (configured) return configured;
  if (typeof error.address === 'string' && typeof error.port === 'number')
    return `${error.address}:${error.port}`;
  if (typeof error.hostname === 'string') return error.hostname;
  return undefined;
}

/** VOUCH_DEBUG=1 (or true): print the stack trace under the one-line message. */
export const debugging = (env: NodeJS.ProcessEnv) => env.VOUCH_DEBUG === '1' || env.VOUCH_DEBUG === 'true';

export function traceOf(error: unknown): string {
  const lines = [error instanceof Error ? (error.stack ?? String(error)) : String(error)];
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause !== undefined) {
    lines.push(`caused by: ${cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return lines.join('\n');
}
