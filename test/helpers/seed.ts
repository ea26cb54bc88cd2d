/**
 * The seed of a randomized or multi-worker test: IOASID_SEED when set (CI pins it), else a
 * random one. Always printed with the command that replays it.
 */
export function testSeed(testFile: string): number {
  const pinned = process.env.IOASID_SEED;
  const seed =
    pinned !== undefined && /^\d+$/.test(pinned)
      ? Number(pinned) % 2 ** 31
      : (Math.random() * 2 ** 31) >>> 0;
  console.log(`seed=${seed} (replay: IOASID_SEED=${seed} npx vitest run ${testFile})`);
  return seed;
}
