// Over ~300 lines on purpose: the type check and the cost budget must agree on every expression form
// CEL has, so they are written side by side.
import {
  type CelEnv,
  type CelFunc,
  CelScalar,
  celEnv,
  celFunc,
  isCelError,
  listType,
  mapType,
  parse,
  plan,
} from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { VouchError } from './errors.ts';

/**
 * Conditions: CEL expressions over one verified statement, evaluated with @bufbuild/cel. The library
 * parses and evaluates; it has no public type checker and no cost accounting, so both are here:
 * a check of the parsed expression against the declared variables and the library's own function
 * overloads when the policy loads, and an iteration budget injected into every comprehension.
 */

/** Longest expression accepted, in characters. */
export const MAX_CONDITION_LENGTH = 4096;
/** Most AST nodes in one expression: what one evaluation does outside loops is bounded by it. */
export const MAX_CONDITION_NODES = 512;
/**
 * Most comprehension iterations (`all`, `exists`, `map`, `filter`, …, nested ones multiplied) one
 * evaluation of one condition may run. A statement from an allowed signer can hold long lists; past
 * this the condition fails, it is never skipped.
 */
export const DEFAULT_CONDITION_COST_LIMIT = 100_000;

/** What a condition sees of the artifact, the statement and who signed it. */
export interface ConditionInput {
  readonly statement: Readonly<Record<string, unknown>>;
  readonly signer: Readonly<Record<string, unknown>>;
  readonly artifact: { readonly key: string; readonly digest: string; readonly size?: number };
  readonly now: Date;
}

export interface Condition {
  readonly source: string;
  /** `undefined` when it holds; otherwise why not (false, an error, the cost limit). */
  evaluate(input: ConditionInput): string | undefined;
}

/** Field types of the variables whose shape Vouch fixes; a field not listed is refused at load. */
const RECORDS: Record<string, Record<string, string>> = {
  signer: {
    kind: 'string',
    keyId: 'string',
    alias: 'string',
    issuer: 'string',
    identity: 'string',
    instance: 'string',
    claims: 'map',
  },
  artifact: { key: 'string', digest: 'string', size: 'int' },
};
const VARIABLES: Record<string, string> = {
  statement: 'map',
  predicate: 'map',
  predicateType: 'string',
  subject: 'list',
  signer: 'record:signer',
  artifact: 'record:artifact',
  now: 'google.protobuf.Timestamp',
};

const COST_FUNCTION = '@vouch_cost';
const json = mapType(CelScalar.STRING, CelScalar.DYN);

interface Budget {
  left: number;
}
let current: Budget | undefined;
const costFunction: CelFunc = celFunc(COST_FUNCTION, [CelScalar.DYN], CelScalar.DYN, (condition) => {
  if (current === undefined || --current.left < 0) throw new Error('cost limit exceeded');
  return condition;
});

let environment: CelEnv | undefined;
const env = (): CelEnv =>
  (environment ??= celEnv({
    variables: {
      statement: json,
      predicate: json,
      predicateType: CelScalar.STRING,
      subject: listType(CelScalar.DYN),
      signer: json,
      artifact: json,
      now: CelScalar.DYN,
    },
    funcs: [...strings, costFunction],
  }));

/**
 * Compiles a condition when the policy loads: parsed, checked (known variables, fields, functions and
 * overloads, a boolean result), bounded, then planned. A bad expression throws with its policy path.
 */
export function compileCondition(
  source: string,
  where: string,
  costLimit = DEFAULT_CONDITION_COST_LIMIT,
): Condition {
  const fail = (why: string): never => {
    throw new VouchError('PARSE_ERROR', `${where}: ${JSON.stringify(source)} ${why}`);
  };
  if (source.length > MAX_CONDITION_LENGTH) fail(`is longer than ${MAX_CONDITION_LENGTH} characters`);
  let root: Expr;
  try {
    root = parse(source).expr;
  } catch (error) {
    return fail(`does not parse: ${(error as Error).message.split('\n')[0]}`);
  }
  const checker = new Checker(env(), fail);
  const type = checker.type(root, new Map());
  if (checker.nodes > MAX_CONDITION_NODES) fail(`has more than ${MAX_CONDITION_NODES} nodes`);
  if (type !== 'bool' && type !== 'dyn') fail(`is ${type}, not a boolean`);
  meter(root);
  const run = plan(env(), root);
  return {
    source,
    evaluate(input) {
      const budget: Budget = { left: costLimit };
      const outer = current;
      current = budget;
      let result: unknown;
      try {
        result = run(bindings(input) as never);
      } catch (error) {
        result = error;
      } finally {
        current = outer;
      }
      // Checked after the fact as well: an exhausted budget fails the condition even where CEL's
      // error-absorbing `||` or `exists` would have let a result through.
      if (budget.left < 0) return `exceeded the cost limit of ${costLimit} iterations`;
      if (result === true) return undefined;
      if (result === false) return 'is false';
      if (isCelError(result) || result instanceof Error)
        return `failed: ${(result as { message: string }).message}`;
      return 'is not a boolean';
    },
  };
}

function bindings(input: ConditionInput) {
  const statement = input.statement;
  const predicate = statement.predicate;
  return {
    statement,
    predicate: typeof predicate === 'object' && predicate !== null ? predicate : {},
    predicateType: typeof statement.predicateType === 'string' ? statement.predicateType : '',
    subject: Array.isArray(statement.subject) ? statement.subject : [],
    signer: input.signer,
    artifact: {
      key: input.artifact.key,
      digest: input.artifact.digest,
      ...(input.artifact.size === undefined ? {} : { size: BigInt(input.artifact.size) }),
    },
    now: timestampFromDate(input.now),
  };
}

/** Every comprehension's loop condition goes through the cost function: one unit per iteration. */
function meter(expr: Expr | undefined): void {
  if (!expr) return;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'selectExpr':
      meter(kind.value.operand);
      return;
    case 'callExpr':
      meter(kind.value.target);
      for (const arg of kind.value.args) meter(arg);
      return;
    case 'listExpr':
      for (const element of kind.value.elements) meter(element);
      return;
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') meter(entry.keyKind.value);
        meter(entry.value);
      }
      return;
    case 'comprehensionExpr': {
      const c = kind.value;
      for (const part of [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result]) meter(part);
      if (c.loopCondition) {
        const inner = c.loopCondition;
        c.loopCondition = {
          ...inner,
          exprKind: {
            case: 'callExpr',
            value: { $typeName: 'cel.expr.Expr.Call', function: COST_FUNCTION, args: [inner] },
          },
        } as Expr;
      }
      return;
    }
    default:
      return;
  }
}

/** Types as the checker tracks them: CEL type names, `record:NAME` for Vouch's fixed shapes. */
type TypeName = string;

const BOOL_OPERATORS = new Set(['_&&_', '_||_', '@not_strictly_false']);

class Checker {
  nodes = 0;
  private readonly environment: CelEnv;
  private readonly fail: (why: string) => never;

  constructor(environment: CelEnv, fail: (why: string) => never) {
    this.environment = environment;
    this.fail = fail;
  }

  type(expr: Expr | undefined, scope: ReadonlyMap<string, TypeName>): TypeName {
    if (!expr) return 'dyn';
    this.nodes++;
    const kind = expr.exprKind;
    switch (kind.case) {
      case 'constExpr':
        return constantType(kind.value.constantKind.case);
      case 'identExpr': {
        const found = scope.get(kind.value.name) ?? VARIABLES[kind.value.name];
        if (!found)
          this.fail(
            `names ${kind.value.name}, which is not a variable; use ${Object.keys(VARIABLES).join(', ')}`,
          );
        return found as TypeName;
      }
      case 'selectExpr': {
        const operand = this.type(kind.value.operand, scope);
        if (kind.value.testOnly) return 'bool';
        if (operand.startsWith('record:')) {
          const fields = RECORDS[operand.slice('record:'.length)] ?? {};
          const field = fields[kind.value.field];
          if (!field)
            this.fail(
              `selects ${operand.slice(7)}.${kind.value.field}; ${operand.slice(7)} has ${Object.keys(fields).join(', ')}`,
            );
          return field as TypeName;
        }
        if (operand === 'map' || operand === 'dyn') return 'dyn';
        return this.fail(`selects .${kind.value.field} of a ${operand}`);
      }
      case 'listExpr':
        for (const element of kind.value.elements) this.type(element, scope);
        return 'list';
      case 'structExpr':
        if (kind.value.messageName !== '') this.fail(`creates a ${kind.value.messageName} message`);
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === 'mapKey') this.type(entry.keyKind.value, scope);
          this.type(entry.value, scope);
        }
        return 'map';
      case 'comprehensionExpr': {
        const c = kind.value;
        const range = this.type(c.iterRange, scope);
        if (!['list', 'map', 'dyn'].includes(range)) this.fail(`iterates over a ${range}`);
        const accu = this.type(c.accuInit, scope);
        const inner = new Map(scope);
        inner.set(c.iterVar, 'dyn');
        if (c.iterVar2) inner.set(c.iterVar2, 'dyn');
        inner.set(c.accuVar, accu === 'bool' || accu === 'int' ? accu : 'dyn');
        this.type(c.loopCondition, inner);
        this.type(c.loopStep, inner);
        const withAccu = new Map(scope);
        withAccu.set(c.accuVar, inner.get(c.accuVar) as string);
        return this.type(c.result, withAccu);
      }
      case 'callExpr':
        return this.call(kind.value.function, kind.value.target, kind.value.args, scope);
      default:
        return this.fail('is not an expression');
    }
  }

  private call(
    name: string,
    target: Expr | undefined,
    args: readonly Expr[],
    scope: ReadonlyMap<string, TypeName>,
  ): TypeName {
    const targetType = target ? this.type(target, scope) : undefined;
    const argTypes = args.map((arg) => this.type(arg, scope));
    if (BOOL_OPERATORS.has(name)) {
      for (const t of argTypes) if (t !== 'bool' && t !== 'dyn') this.fail(`uses ${name} on a ${t}`);
      return 'bool';
    }
    if (name === '_?_:_') {
      const [condition, yes, no] = argTypes;
      if (condition !== 'bool' && condition !== 'dyn') this.fail(`branches on a ${condition}`);
      return yes === no ? (yes as TypeName) : 'dyn';
    }
    if (name === '_[_]') {
      const [container] = argTypes;
      if (
        container !== 'list' &&
        container !== 'map' &&
        container !== 'dyn' &&
        !container?.startsWith('record:')
      )
        this.fail(`indexes a ${container}`);
      return 'dyn';
    }
    const group = this.environment.funcs.find(name);
    const shown = `${name.replace(/^_(.*)_$/, '$1').replace(/^@/, '')}`;
    if (!group || name === COST_FUNCTION)
      return this.fail(`calls ${shown}, which is not a CEL function here`);
    const plain = (t: TypeName) => (t.startsWith('record:') ? 'map' : t);
    const candidates = [...group].filter(
      (f) =>
        (f.target === undefined) === (targetType === undefined) &&
        f.arguments.length === args.length &&
        (targetType === undefined || f.target === undefined || accepts(f.target.name, plain(targetType))) &&
        f.arguments.every((a, i) => accepts(a.name, plain(argTypes[i] as TypeName))),
    );
    if (candidates.length === 0) {
      const on = targetType === undefined ? '' : `${plain(targetType)}.`;
      this.fail(`calls ${on}${shown}(${argTypes.map(plain).join(', ')}), which has no such overload`);
    }
    const results = new Set(candidates.map((f) => f.result.name));
    return results.size === 1 ? ([...results][0] as TypeName) : 'dyn';
  }
}

/** Whether a value of type `actual` may be passed where `expected` is declared. */
const accepts = (expected: string, actual: string) =>
  expected === 'dyn' || actual === 'dyn' || expected === actual;

function constantType(kind: string | undefined): TypeName {
  switch (kind) {
    case 'boolValue':
      return 'bool';
    case 'int64Value':
      return 'int';
    case 'uint64Value':
      return 'uint';
    case 'doubleValue':
      return 'double';
    case 'stringValue':
      return 'string';
    case 'bytesValue':
      return 'bytes';
    case 'nullValue':
      return 'null_type';
    default:
      return 'dyn';
  }
}
