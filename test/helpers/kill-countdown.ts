/**
 * The countdown of the kill-point harness (kill-points.ts), apart from it: this module imports
 * nothing from src/, so a `vi.mock` factory of a core module can use `killableModule` without
 * importing the module it mocks.
 */

/** What a killed call throws. */
export const KILL = Symbol('kill');

let countdown = -1;
/** Run at the countdown's end instead of a kill (see kill-points.ts runInjectedAt). */
let injection: (() => void) | undefined;

/** Kill at the `k`-th kill point from now (-1: none); clears an armed injection. */
export function armKill(k: number): void {
  countdown = k;
  injection = undefined;
}

/** Run `inject` instead of a kill at the `k`-th kill point from now. */
export function armInjection(k: number, inject: () => void): void {
  countdown = k;
  injection = inject;
}

/** One kill point passed: kill (or inject) when the countdown ends here. */
export function killPoint(): void {
  if (countdown > 0 && --countdown === 0) {
    countdown = -1;
    const inject = injection;
    injection = undefined;
    if (inject === undefined) throw KILL;
    inject(); // another "thread" acts here, before the call's effect
  }
}

/**
 * A copy of module namespace `mod` whose exported functions are kill points at their entry,
 * as a JS function's entry is for a terminated worker (V8 checks for interrupts there unless
 * the optimizer inlined the call). For `vi.mock(path, async (orig) => killableModule(await
 * orig()))`: every call into the module from another module then counts, like a builtin call.
 * Calls inside the module and to class methods are not covered.
 */
export function killableModule<T extends object>(mod: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(mod)) {
    const isClass = typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));
    if (typeof v !== 'function' || isClass) {
      out[name] = v;
      continue;
    }
    const fn = v as (...a: unknown[]) => unknown;
    out[name] = (...a: unknown[]) => {
      killPoint();
      return fn(...a);
    };
  }
  return out as T;
}
