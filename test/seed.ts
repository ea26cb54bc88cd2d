/**
 * Seeds for randomized tests: `IOASID_SEED` pins one, otherwise a fresh one is drawn. Each
 * test prints its seed and the command that replays it.
 */
export function testSeed(file: string, label: string): number {
  const pinned = process.env.IOASID_SEED;
  const seed = pinned !== undefined ? Number(pinned) : (Math.random() * 2 ** 31) | 0;
  if (!Number.isInteger(seed)) throw new Error(`IOASID_SEED must be an integer (got ${pinned})`);
  console.log(`[${label}] seed=${seed}  replay: IOASID_SEED=${seed} npx vitest run ${file}`);
  return seed;
}
