import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bundleLambda } from './bundle.ts';
import { RETAINED } from './retention.ts';

/** The project root: entry points, the lock file and the files copied into bundles resolve from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Node 24 in Lambda: the runtime that development, tests and CI use, and the bundles' target. */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface VouchFunctionProps {
  /** Handler module, relative to the project root, e.g. `lambdas/verify/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  /**
   * The function's role. Supplied rather than created so that grants, key policies and the deployment
   * bucket's policy can name it before the function exists.
   */
  readonly role: iam.IRole;
  readonly environment: Record<string, string>;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Files or folders (relative to the project root) copied next to the bundle, under the given name.
   * @default - none
   */
  readonly assets?: Readonly<Record<string, string>>;
  /**
   * Files written next to the bundle: name → content.
   * @default - none
   */
  readonly files?: Readonly<Record<string, string>>;
}

/**
 * A Vouch Lambda: arm64, bundled at synth by esbuild in this process (no Docker; lib/bundle.ts: ESM, code
 * split, minified, AWS SDK included so the versions tested are the versions deployed), its own log group
 * with a retention, and a role that may write to that log group and nothing else until it is granted more.
 */
export class VouchFunction extends Construct {
  public readonly function: lambda.Function;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: VouchFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RETAINED,
    });
    this.function = new lambda.Function(this, 'Function', {
      code: lambda.Code.fromAsset(PROJECT_ROOT, {
        // The bundle's own hash: the project folder (with node_modules) is never fingerprinted or copied.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // What makes this bundle this function's. CDK reuses one bundle for every asset with the same
          // source folder and bundling options, and the local bundler (a function) is not compared: without
          // its inputs here, every function would be given the first function's bundle.
          environment: {
            VOUCH_BUNDLE_INPUTS: createHash('sha256')
              .update(JSON.stringify([props.entry, props.assets ?? {}, props.files ?? {}]))
              .digest('hex'),
          },
          // Only if local bundling declined, which it never does: no Docker is needed or used.
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs24.x'),
          local: {
            tryBundle: (outputDir) => {
              bundleLambda(PROJECT_ROOT, props.entry, outputDir, {
                copies: props.assets ?? {},
                files: props.files ?? {},
              });
              return true;
            },
          },
        },
      }),
      handler: 'index.handler',
      description: props.description,
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.minutes(1),
      role: props.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
    });
    // The role may write this function's logs; the managed AWSLambdaBasicExecutionRole would allow any group.
    this.logGroup.grantWrite(props.role);
  }
}

/** A role only the Lambda service can assume, with no permissions yet. */
export function lambdaRole(scope: Construct, id: string, description: string, roleName?: string): iam.Role {
  return new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description,
    ...(roleName ? { roleName } : {}),
  });
}
