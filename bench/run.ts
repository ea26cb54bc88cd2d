/** `npm run bench`: every benchmark, each printing ratios against baselines from this run. */
import { main as rcu } from './rcu.js';

console.log(
  `ioasid bench: node ${process.version}, ${(await import('node:os')).availableParallelism()} CPUs`,
);
await rcu();
