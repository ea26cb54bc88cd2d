/**
 * Describe a rejected argument for an error message without running user code: no
 * `String(value)` on an object (its toString, valueOf or Symbol.toPrimitive could throw, or
 * act), no conversion of a Symbol. Shared by the IOASID and RCU error factories.
 *
 * @param v - any value
 *
 * Context: pure; any thread.
 * @returns a short description: the value itself for primitives, its kind otherwise
 */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${String(v)}n`;
    case 'string':
      return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object';
  }
}
