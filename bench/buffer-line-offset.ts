/**
 * Where do a SharedArrayBuffer's real cache lines start? (bench/FINDINGS.md, "A
 * SharedArrayBuffer starts 16 bytes past a cache line"; src/core/cache-line.ts GUARD_WORDS.)
 * Two workers each store and load a word of their own in one buffer: worker B always at byte
 * 128, worker A at each 4-byte offset from 64 to 124. Where A's word shares B's real line,
 * both pay a cross-core miss per step (here ~55 ns against ~14 ns): the first such offset is
 * where that real line begins, so (that offset mod 64) is how far word 0 sits past a line
 * boundary, from the other side: 48 means word 0 is 16 bytes past one.
 *
 * Usage: `node dist/bench/buffer-line-offset.js [buffer-bytes]` (default 7 MiB, about a
 * default space). Not part of `npm run bench`: a check of the machine and its allocator.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const STEPS = 2_000_000;
const B_BYTE = 128;

interface Job {
  sab: SharedArrayBuffer;
  word: number;
}

/** ns per Atomics.store + Atomics.load of `word`, over STEPS steps. */
function hammer(sab: SharedArrayBuffer, word: number): number {
  const a = new Int32Array(sab);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < STEPS; i++) {
    Atomics.store(a, word, i);
    if (Atomics.load(a, word) !== i) throw new Error('another thread wrote this word');
  }
  return Number(process.hrtime.bigint() - t0) / STEPS;
}

async function pair(sab: SharedArrayBuffer, aByte: number): Promise<number[]> {
  const jobs: Job[] = [
    { sab, word: aByte / 4 },
    { sab, word: B_BYTE / 4 },
  ];
  const ws = jobs.map((job) => new Worker(new URL(import.meta.url), { workerData: job }));
  return Promise.all(
    ws.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
}

if (isMainThread) {
  const bytes = Number(process.argv[2] ?? 7 << 20);
  if (!(Number.isInteger(bytes) && bytes >= 256 && bytes <= 1 << 30)) {
    console.error('usage: buffer-line-offset.js [buffer-bytes, 256 .. 2^30]');
    process.exit(2);
  }
  const sab = new SharedArrayBuffer(bytes);
  console.log(`one ${bytes}-byte SharedArrayBuffer; worker B's word at byte ${B_BYTE}`);
  const rows: { aByte: number; a: number; b: number }[] = [];
  for (let aByte = 64; aByte < B_BYTE; aByte += 4) {
    const [a = 0, b = 0] = await pair(sab, aByte);
    rows.push({ aByte, a, b });
    console.log(
      `  A at byte ${aByte}: ${a.toFixed(1)} / ${b.toFixed(1)} ns per store+load (A / B)`,
    );
  }
  // Sharing costs both workers a miss per step: both well above the cheapest pair seen.
  const cheapest = Math.min(...rows.map((r) => Math.max(r.a, r.b)));
  const first = rows.find((r) => r.a > 2 * cheapest && r.b > 2 * cheapest)?.aByte ?? -1;
  console.log(
    first < 0
      ? "no offset from 64 to 124 shared B's real line (a line-aligned buffer?)"
      : `B's real line begins at byte ${first}: word 0 sits ${(64 - (first % 64)) % 64} bytes past a line`,
  );
} else {
  const job = workerData as Job;
  parentPort?.postMessage(hammer(job.sab, job.word));
}
