/**
 * Simulated kills for the deterministic kill-safety tests: while armed, the K-th call to an
 * Atomics or Math builtin throws KILL before its effect, which is where a terminated worker
 * stops (test/ioasid_kill_points_are_call_boundaries.test.ts). The victim attachment is never
 * used again after a kill.
 */

/** Thrown by the armed builtin. */
export const KILL = Symbol('kill');

let countdown = -1;
const patched: Array<[Record<string, unknown>, string, unknown]> = [];

/** Arm: the `k`-th builtin call from now throws KILL (k >= 1); -1 disarms. */
export function armKill(k: number): void {
  countdown = k;
}

/** Patch the builtins (call in beforeAll); `extra` adds Atomics names beyond the defaults. */
export function patchBuiltins(extra: string[] = []): void {
  const patch = (obj: Record<string, unknown>, names: string[]) => {
    for (const name of names) {
      const orig = obj[name] as (...a: unknown[]) => unknown;
      patched.push([obj, name, orig]);
      obj[name] = (...a: unknown[]) => {
        if (countdown > 0 && --countdown === 0) {
          countdown = -1;
          throw KILL;
        }
        return orig.apply(obj, a);
      };
    }
  };
  const atomics = ['load', 'store', 'compareExchange', 'exchange', 'add', 'sub', 'and', 'or'];
  patch(Atomics as unknown as Record<string, unknown>, [...atomics, ...extra]);
  patch(Math as unknown as Record<string, unknown>, ['clz32', 'imul', 'min', 'max', 'floor']);
}

/** Undo patchBuiltins (call in afterAll). */
export function restoreBuiltins(): void {
  for (const [obj, name, orig] of patched.splice(0)) obj[name] = orig;
  countdown = -1;
}
