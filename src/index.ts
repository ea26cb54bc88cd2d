/**
 * ioasid: the Linux IOASID/PASID allocator on SharedArrayBuffer and worker threads.
 *
 * `ioasid/rcu` is the userspace RCU on its own; this entry point re-exports it with the
 * allocator.
 *
 * @module ioasid
 */

export * from './core/ioasid/ioasid-space.js';
export * from './core/rcu/rcu.js';
