import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';

/**
 * A test double of a space: the members named in `fake` answer with those values instead;
 * every other member is the real space's (methods bound to it, so its private state works).
 */
export function spaceDouble(
  space: IoasidSpace,
  fake: Partial<Record<keyof IoasidSpace, unknown>>,
): IoasidSpace {
  return new Proxy(space, {
    get(target, key) {
      if (Object.hasOwn(fake, key)) return fake[key as keyof IoasidSpace];
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
