import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { RETAINED } from './retention.ts';

/** The project root: entry points, the lock file and the files copied into bundles resolve from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Node 24 in Lambda, and the bundles' esbuild target: the runtime that development, tests and CI use. */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;
export const BUNDLE_TARGET = 'node24';

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
}

/**
 * A Vouch Lambda: arm64, ESM, bundled and minified by the local esbuild (no Docker), AWS SDK included so
 * the versions tested are the versions deployed, its own log group with a retention, and a role that
 * may write to that log group and nothing else until it is granted more.
 */
export class VouchFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: VouchFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RETAINED,
    });
    const copies = Object.entries(props.assets ?? {});
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: `${PROJECT_ROOT}${props.entry}`,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
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
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: BUNDLE_TARGET,
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        bundleAwsSDK: true,
        forceDockerBundling: false,
        // CDK runs the local esbuild through `npx --no-install`. Under `npx -p node@24 -- …` (the README's
        // bootstrap) npm exports npm_config_package=node@24, which that npx would try, and refuse, to install.
        environment: { npm_config_package: '' },
        // Some CommonJS dependencies call require(); an ESM bundle has to provide it.
        banner:
          "import { createRequire as __vouchRequire } from 'node:module'; const require = __vouchRequire(import.meta.url);",
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) =>
            copies.map(([name, source]) => `cp -R "${inputDir}/${source}" "${outputDir}/${name}"`),
        },
      },
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
