/**
 * A custom allocator group's provider living in the test's own thread: every member made by
 * `make()` hands out the lowest id in [min, max] it does not hold, and takes ids back.
 */
import type { AllocatorOps } from '../../src/core/ioasid/ioasid-space.js';

/**
 * A provider shared by every member of group `name`.
 *
 * @param name - the group's name
 *
 * Context: tests, one thread.
 * @returns `held` (the ids the provider handed out and did not get back) and `make`, which
 *   makes a new member ops object
 */
export function inThreadProvider(name = 'vcmd'): {
  held: Set<number>;
  make: () => AllocatorOps;
} {
  const held = new Set<number>();
  const make = (): AllocatorOps => ({
    name,
    alloc(min, max) {
      for (let id = min; id <= max; id++)
        if (!held.has(id)) {
          held.add(id);
          return id;
        }
      return -28; // -ENOSPC
    },
    free(id) {
      held.delete(id);
    },
  });
  return { held, make };
}
