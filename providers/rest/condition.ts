/**
 * Conditions and extractions on a JSON answer: JMESPath expressions (the community
 * implementation), compiled when the config is read so a typo fails at start, not at the
 * first leaver. An expression reads the answer only; it cannot call out or run code.
 */
import { compile, TreeInterpreter, type JSONValue } from '@jmespath-community/jmespath';

type Compiled = ReturnType<typeof compile>;

export class JsonQuery {
  private constructor(
    /** The expression as written: named in messages, never the answer it ran on. */
    readonly source: string,
    private readonly ast: Compiled,
  ) {}

  /** Compiles the expression, or throws a message naming the syntax error. */
  static compile(source: string): JsonQuery {
    try {
      return new JsonQuery(source, compile(source));
    } catch (error) {
      throw new Error(`not a valid JMESPath expression: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The expression's value on the answer; an answer that is not JSON reads as null. */
  search(answer: unknown): JSONValue {
    try {
      return TreeInterpreter.search(this.ast, (answer ?? null) as JSONValue);
    } catch {
      // A function applied to the wrong type (length(null)) means the answer is not the expected shape.
      return null;
    }
  }

  /** JMESPath's truth: false, null, an empty string, list or object are false; all else is true. */
  holds(answer: unknown): boolean {
    return isTruthy(this.search(answer));
  }
}

export function isTruthy(value: JSONValue): boolean {
  if (value === null || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}
