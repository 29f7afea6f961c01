// Over 300 lines on purpose: one request dispatcher and the 18 KMS operations Vouch calls, each a few
// lines of validation in KMS's own words; split, the operations would lose sight of the shared key state.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ALGORITHMS,
  digestLength,
  generateKey,
  KEY_SPECS,
  type KeySpec,
  publicKeyDer,
  type SigningAlgorithm,
  signMessage,
  verifyMessage,
} from './crypto.ts';

/**
 * A local stand-in for AWS KMS's asymmetric signing API, speaking the JSON 1.1 protocol that
 * @aws-sdk/client-kms uses, for the local stack and tests. No emulator can be installed here. It keeps
 * private keys in plain PKCS#8 PEM in its state file: a development tool, never a key store.
 */
export interface KmsServerOptions {
  readonly host?: string;
  readonly port?: number;
  /** Persist keys, aliases and tags here; they survive a restart. */
  readonly dataDir?: string;
  readonly region?: string;
  readonly accountId?: string;
  /** KMS's clock, which stamps keys' creation dates: a test moves it with the time it simulates. */
  readonly clock?: () => Date;
}

export interface KmsServer {
  readonly endpoint: string;
  readonly port: number;
  /** Requests served, per operation: "KMS calls per verification" is counted here. */
  readonly calls: ReadonlyMap<string, number>;
  resetCalls(): void;
  close(): Promise<void>;
}

interface KeyState {
  keyId: string;
  arn: string;
  keySpec: KeySpec;
  description: string;
  creationDate: number;
  enabled: boolean;
  deletionDate?: number;
  privateKeyPem: string;
  tags: Record<string, string>;
  /** The key policy document, as given to CreateKey (KMS's default policy when none was). */
  policy?: string;
}

interface State {
  keys: Record<string, KeyState>;
  aliases: Record<string, string>;
}

class KmsError extends Error {
  readonly type: string;

  constructor(type: string, message: string) {
    super(message);
    this.type = type;
  }
}

const MAX_BODY_BYTES = 1024 * 1024;
const RAW_MESSAGE_LIMIT = 4096;
/** KMS's documented tag syntax: Unicode letters, digits, white space and `_ . : / = + - @`. */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MAX_POLICY_BYTES = 32_768;
/** A key policy may hold printable ASCII and Latin-1 characters, tab, line feed and carriage return. */
const POLICY_CHARACTERS = /^[\u0020-\u00FF\t\n\r]*$/;

export async function startKmsServer(options: KmsServerOptions = {}): Promise<KmsServer> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const stateFile = options.dataDir ? join(options.dataDir, 'kms-state.json') : undefined;
  const state: State = stateFile ? load(stateFile) : { keys: {}, aliases: {} };
  const calls = new Map<string, number>();

  const save = () => {
    if (!stateFile) return;
    // Write-then-rename: a crash mid-write never leaves a torn state file.
    writeFileSync(`${stateFile}.tmp`, JSON.stringify(state));
    renameSync(`${stateFile}.tmp`, stateFile);
  };
  const aliasArn = (name: string) => `arn:aws:kms:${region}:${accountId}:${name}`;

  /** Resolves a key ID, key ARN, alias name or alias ARN, as KMS does. */
  const resolve = (id: unknown, { usable = true } = {}): KeyState => {
    if (typeof id !== 'string' || id === '') throw new KmsError('ValidationException', 'KeyId is required');
    let keyId = id;
    const aliasName = id.startsWith('alias/')
      ? id
      : id.includes(':alias/')
        ? id.slice(id.indexOf('alias/'))
        : undefined;
    if (aliasName) {
      const target = state.aliases[aliasName];
      if (!target) throw new KmsError('NotFoundException', `Alias ${aliasArn(aliasName)} is not found.`);
      keyId = target;
    } else if (id.startsWith('arn:')) {
      keyId = id.slice(id.lastIndexOf('/') + 1);
    }
    const key = state.keys[keyId];
    if (!key) throw new KmsError('NotFoundException', `Key '${id}' does not exist`);
    if (usable) {
      if (key.deletionDate !== undefined)
        throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    }
    return key;
  };

  const metadata = (key: KeyState) => ({
    AWSAccountId: accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: key.creationDate,
    Enabled: key.enabled,
    Description: key.description,
    KeyUsage: 'SIGN_VERIFY',
    KeyState: key.deletionDate !== undefined ? 'PendingDeletion' : key.enabled ? 'Enabled' : 'Disabled',
    ...(key.deletionDate !== undefined ? { DeletionDate: key.deletionDate } : {}),
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    SigningAlgorithms: ALGORITHMS[key.keySpec],
    MultiRegion: false,
  });

  const signingInput = (input: Record<string, unknown>, key: KeyState) => {
    const algorithm = input.SigningAlgorithm as SigningAlgorithm;
    if (!ALGORITHMS[key.keySpec].includes(algorithm)) {
      throw new KmsError(
        'InvalidKeyUsageException',
        `Signing algorithm ${String(algorithm)} is not valid for key spec ${key.keySpec}`,
      );
    }
    if (typeof input.Message !== 'string') throw new KmsError('ValidationException', 'Message is required');
    const message = Buffer.from(input.Message, 'base64');
    const messageType = input.MessageType ?? 'RAW';
    if (messageType !== 'RAW' && messageType !== 'DIGEST')
      throw new KmsError('ValidationException', `MessageType must be RAW or DIGEST`);
    if (messageType === 'RAW' && message.length > RAW_MESSAGE_LIMIT) {
      throw new KmsError(
        'ValidationException',
        `Message must be at most ${RAW_MESSAGE_LIMIT} bytes; use MessageType DIGEST`,
      );
    }
    if (messageType === 'DIGEST' && message.length !== digestLength(algorithm)) {
      throw new KmsError(
        'ValidationException',
        `Digest is ${message.length} bytes; ${algorithm} needs ${digestLength(algorithm)}`,
      );
    }
    return { algorithm, message, isDigest: messageType === 'DIGEST' };
  };

  const tagList = (value: unknown): Record<string, string> => {
    if (value === undefined) return {};
    if (!Array.isArray(value)) throw new KmsError('ValidationException', 'Tags must be a list');
    return Object.fromEntries(
      value.map((tag) => {
        if (typeof tag?.TagKey !== 'string' || typeof tag?.TagValue !== 'string')
          throw new KmsError('TagException', 'Each tag needs TagKey and TagValue');
        const { TagKey: key, TagValue: value } = tag as { TagKey: string; TagValue: string };
        if (key.length < 1 || key.length > 128 || !TAG_CHARACTERS.test(key) || key.startsWith('aws:'))
          throw new KmsError('TagException', `Tag key ${JSON.stringify(key)} is not a valid tag key`);
        if (value.length > 256 || !TAG_CHARACTERS.test(value))
          throw new KmsError('TagException', `Tag value ${JSON.stringify(value)} is not a valid tag value`);
        return [key, value];
      }),
    );
  };

  /** What KMS checks of a key policy on its own (it also evaluates it, which the local server cannot). */
  const checkPolicy = (policy: unknown): string => {
    const malformed = (why: string) => new KmsError('MalformedPolicyDocumentException', why);
    if (typeof policy !== 'string' || policy === '') throw malformed('Policy must be a non-empty string');
    if (Buffer.byteLength(policy) > MAX_POLICY_BYTES)
      throw new KmsError('LimitExceededException', `Policy exceeds ${MAX_POLICY_BYTES} bytes`);
    if (!POLICY_CHARACTERS.test(policy))
      throw malformed('Policy contains characters a key policy cannot hold');
    let document: unknown;
    try {
      document = JSON.parse(policy);
    } catch {
      throw malformed('Policy is not valid JSON');
    }
    const statements = (document as { Statement?: unknown })?.Statement;
    const list = Array.isArray(statements) ? statements : [statements];
    if (
      statements === undefined ||
      !list.every((s) => typeof s === 'object' && s !== null && ('Principal' in s || 'NotPrincipal' in s))
    ) {
      throw malformed('Every statement in a key policy must name a principal');
    }
    return policy;
  };
  const defaultPolicy = () =>
    JSON.stringify({
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });

  const checkAliasName = (name: unknown): string => {
    if (typeof name !== 'string' || !/^alias\/[a-zA-Z0-9/_-]+$/.test(name))
      throw new KmsError('ValidationException', `Invalid AliasName ${String(name)}`);
    if (name.startsWith('alias/aws/'))
      throw new KmsError('NotAuthorizedException', 'alias/aws/ is reserved for AWS managed keys');
    return name;
  };

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateKey: (input) => {
      const spec = (input.KeySpec ?? input.CustomerMasterKeySpec) as KeySpec;
      if (!KEY_SPECS.includes(spec))
        throw new KmsError(
          'ValidationException',
          `KeySpec ${String(spec)} is not supported by the local KMS (asymmetric signing keys only)`,
        );
      if ((input.KeyUsage ?? 'SIGN_VERIFY') !== 'SIGN_VERIFY')
        throw new KmsError('ValidationException', 'KeyUsage must be SIGN_VERIFY');
      const policy = input.Policy === undefined ? defaultPolicy() : checkPolicy(input.Policy);
      if (
        input.BypassPolicyLockoutSafetyCheck !== undefined &&
        typeof input.BypassPolicyLockoutSafetyCheck !== 'boolean'
      )
        throw new KmsError('ValidationException', 'BypassPolicyLockoutSafetyCheck must be a boolean');
      const tags = tagList(input.Tags);
      const keyId = randomUUID();
      const key: KeyState = {
        keyId,
        arn: `arn:aws:kms:${region}:${accountId}:key/${keyId}`,
        keySpec: spec,
        description: typeof input.Description === 'string' ? input.Description : '',
        creationDate: (options.clock?.() ?? new Date()).getTime() / 1000,
        enabled: true,
        privateKeyPem: generateKey(spec),
        tags,
        policy,
      };
      state.keys[keyId] = key;
      save();
      return { KeyMetadata: metadata(key) };
    },
    DescribeKey: (input) => ({ KeyMetadata: metadata(resolve(input.KeyId, { usable: false })) }),
    GetKeyPolicy: (input) => {
      const key = resolve(input.KeyId, { usable: false });
      if ((input.PolicyName ?? 'default') !== 'default')
        throw new KmsError('NotFoundException', `Key policy ${String(input.PolicyName)} is not found`);
      return { Policy: key.policy ?? defaultPolicy(), PolicyName: 'default' };
    },
    GetPublicKey: (input) => {
      const key = resolve(input.KeyId);
      return {
        KeyId: key.arn,
        PublicKey: publicKeyDer(key.privateKeyPem).toString('base64'),
        KeySpec: key.keySpec,
        CustomerMasterKeySpec: key.keySpec,
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ALGORITHMS[key.keySpec],
      };
    },
    Sign: (input) => {
      const key = resolve(input.KeyId);
      const { algorithm, message, isDigest } = signingInput(input, key);
      let signature: Buffer;
      try {
        signature = signMessage(key.privateKeyPem, algorithm, message, isDigest);
      } catch (error) {
        throw new KmsError('UnsupportedOperationException', (error as Error).message);
      }
      return { KeyId: key.arn, Signature: signature.toString('base64'), SigningAlgorithm: algorithm };
    },
    Verify: (input) => {
      const key = resolve(input.KeyId);
      const { algorithm, message, isDigest } = signingInput(input, key);
      if (typeof input.Signature !== 'string')
        throw new KmsError('ValidationException', 'Signature is required');
      if (
        !verifyMessage(
          key.privateKeyPem,
          algorithm,
          message,
          isDigest,
          Buffer.from(input.Signature, 'base64'),
        )
      ) {
        throw new KmsError('KMSInvalidSignatureException', 'The signature is not valid');
      }
      return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm };
    },
    CreateAlias: (input) => {
      const name = checkAliasName(input.AliasName);
      if (state.aliases[name])
        throw new KmsError(
          'AlreadyExistsException',
          `An alias with the name ${aliasArn(name)} already exists`,
        );
      state.aliases[name] = resolve(input.TargetKeyId, { usable: false }).keyId;
      save();
      return {};
    },
    UpdateAlias: (input) => {
      const name = checkAliasName(input.AliasName);
      if (!state.aliases[name])
        throw new KmsError('NotFoundException', `Alias ${aliasArn(name)} is not found.`);
      state.aliases[name] = resolve(input.TargetKeyId, { usable: false }).keyId;
      save();
      return {};
    },
    DeleteAlias: (input) => {
      const name = checkAliasName(input.AliasName);
      if (!state.aliases[name])
        throw new KmsError('NotFoundException', `Alias ${aliasArn(name)} is not found.`);
      delete state.aliases[name];
      save();
      return {};
    },
    ListAliases: (input) => {
      const only = input.KeyId === undefined ? undefined : resolve(input.KeyId, { usable: false }).keyId;
      return {
        Aliases: Object.entries(state.aliases)
          .filter(([, target]) => only === undefined || target === only)
          .map(([name, target]) => ({ AliasName: name, AliasArn: aliasArn(name), TargetKeyId: target })),
        Truncated: false,
      };
    },
    ListKeys: () => ({
      Keys: Object.values(state.keys).map((key) => ({ KeyId: key.keyId, KeyArn: key.arn })),
      Truncated: false,
    }),
    DisableKey: (input) => {
      const key = resolve(input.KeyId, { usable: false });
      if (key.deletionDate !== undefined)
        throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      key.enabled = false;
      save();
      return {};
    },
    EnableKey: (input) => {
      const key = resolve(input.KeyId, { usable: false });
      if (key.deletionDate !== undefined)
        throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      key.enabled = true;
      save();
      return {};
    },
    ScheduleKeyDeletion: (input) => {
      const key = resolve(input.KeyId, { usable: false });
      if (key.deletionDate !== undefined)
        throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      const days = input.PendingWindowInDays ?? 30;
      if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
        throw new KmsError('ValidationException', 'PendingWindowInDays must be an integer between 7 and 30');
      }
      key.deletionDate = Date.now() / 1000 + days * 86_400;
      key.enabled = false;
      save();
      return {
        KeyId: key.arn,
        DeletionDate: key.deletionDate,
        KeyState: 'PendingDeletion',
        PendingWindowInDays: days,
      };
    },
    CancelKeyDeletion: (input) => {
      const key = resolve(input.KeyId, { usable: false });
      delete key.deletionDate;
      save();
      return { KeyId: key.arn };
    },
    TagResource: (input) => {
      const key = resolve(input.KeyId, { usable: false });
      Object.assign(key.tags, tagList(input.Tags));
      save();
      return {};
    },
    UntagResource: (input) => {
      const key = resolve(input.KeyId, { usable: false });
      for (const name of Array.isArray(input.TagKeys) ? input.TagKeys : []) delete key.tags[String(name)];
      save();
      return {};
    },
    ListResourceTags: (input) => ({
      Tags: Object.entries(resolve(input.KeyId, { usable: false }).tags).map(([TagKey, TagValue]) => ({
        TagKey,
        TagValue,
      })),
      Truncated: false,
    }),
  };

  const server = createServer((request, response) => {
    serve(request, response).catch((error: unknown) =>
      reply(response, 500, { __type: 'KMSInternalException', message: String(error) }),
    );
  });
  async function serve(request: IncomingMessage, response: ServerResponse) {
    const target = request.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith('TrentService.')
        ? target.slice('TrentService.'.length)
        : '';
    try {
      if (request.method !== 'POST') throw new KmsError('UnknownOperationException', 'KMS accepts POST only');
      if (!request.headers.authorization)
        throw new KmsError('MissingAuthenticationTokenException', 'Request is missing Authentication Token');
      const body = await readBody(request);
      const handler = operations[operation];
      if (!handler)
        throw new KmsError('UnknownOperationException', `Unknown operation ${operation || '(none)'}`);
      calls.set(operation, (calls.get(operation) ?? 0) + 1);
      let input: unknown;
      try {
        input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        throw new KmsError('SerializationException', 'The request body is not valid JSON');
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input))
        throw new KmsError('SerializationException', 'The request body must be a JSON object');
      reply(response, 200, handler(input as Record<string, unknown>));
    } catch (error) {
      if (error instanceof KmsError) reply(response, 400, { __type: error.type, message: error.message });
      else throw error;
    }
  }

  await new Promise<void>((resolveListen) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolveListen),
  );
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    calls,
    resetCalls: () => calls.clear(),
    close: () =>
      new Promise<void>((resolveClose, reject) => {
        server.close((error) => (error ? reject(error) : resolveClose()));
        server.closeAllConnections();
      }),
  };
}

function load(stateFile: string): State {
  mkdirSync(join(stateFile, '..'), { recursive: true });
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { keys: {}, aliases: {} };
    throw new Error(`local KMS: cannot read ${stateFile}: ${(error as Error).message}`);
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new KmsError('ValidationException', `Request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function reply(response: ServerResponse, status: number, body: unknown) {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(payload),
  });
  response.end(payload);
}
