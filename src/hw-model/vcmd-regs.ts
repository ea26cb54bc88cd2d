/**
 * The VT-d virtual command registers (iommu-hw-model.md §1.6) in both encodings: VT-d 3.0-3.2
 * (Linux v5.8 "Enlightened PASID allocation", QEMU RFC v11) and VT-d 3.3 (Linux 4d99efb229e6).
 * A vIOMMU's register page 0xE00..0xE3F is modelled as 8 qwords, each two words (lo, hi),
 * in the vIOMMU block of the VM region (hw-layout.ts VI_REGS).
 *
 * | register | 3.0 offset | 3.3 offset | fields                                              |
 * |----------|------------|------------|-----------------------------------------------------|
 * | VCCAP    | 0xE00      | 0xE30      | bit 0 PAS (PASID allocation supported)              |
 * | VCMD     | 0xE10      | 0xE00      | 7:0 opcode (1 alloc, 2 free); operand 27:8 / 35:16  |
 * | VCRSP    | 0xE20      | 0xE10      | 0 IP; SC 2:1 / 7:1; result 27:8 / 35:16             |
 *
 * Status codes: 0 success; "no PASID available" (Allocate) and "invalid PASID" (Free) are 2 in
 * 3.0 (Linux used 1 until Feb 2021) and 16 in 3.3; 1 is QEMU's "undefined command".
 *
 * @internal
 */

/** H_VCMD_REV values. */
export const VCMD_REV_30 = 0;
export const VCMD_REV_33 = 1;

/** VCCAP.PAS. */
export const VCCAP_PAS = 1;
/** VCMD opcodes. */
export const VCMD_NULL = 0;
export const VCMD_ALLOC = 1;
export const VCMD_FREE = 2;
/** VCRSP.IP. */
export const VCRSP_IP = 1;
/** Status codes that do not depend on the revision. */
export const SC_SUCCESS = 0;
export const SC_UNDEFINED = 1;

const BASE = 0xe00;
const OFFSETS = [
  { vccap: 0xe00, vcmd: 0xe10, vcrsp: 0xe20 },
  { vccap: 0xe30, vcmd: 0xe00, vcrsp: 0xe10 },
] as const;

/** The register's word index (lo; hi is + 1) within a vIOMMU's REGS. */
function regWord(rev: number, reg: 'vccap' | 'vcmd' | 'vcrsp'): number {
  return ((OFFSETS[rev]![reg] - BASE) / 8) * 2;
}

/** Word index (lo) of VCCAP in REGS for `rev`. */
export function vccapWord(rev: number): number {
  return regWord(rev, 'vccap');
}
/** Word index (lo) of VCMD in REGS for `rev`. */
export function vcmdWord(rev: number): number {
  return regWord(rev, 'vcmd');
}
/** Word index (lo) of VCRSP in REGS for `rev`. */
export function vcrspWord(rev: number): number {
  return regWord(rev, 'vcrsp');
}

/** SC of "no PASID available" (Allocate) and "invalid PASID" (Free). */
export function scNoPasid(rev: number): number {
  return rev === VCMD_REV_33 ? 16 : 2;
}

/**
 * Encode a VCMD write.
 *
 * @param rev - VCMD_REV_30 or VCMD_REV_33
 * @param op - the opcode (0..255)
 * @param operand - a PASID (0..0xFFFFF) for Free, 0 for Allocate
 *
 * Context: pure.
 * @returns [lo, hi]
 */
export function encodeVcmd(rev: number, op: number, operand: number): [number, number] {
  const pasid = operand & 0xfffff;
  if (rev === VCMD_REV_33) return [(op & 0xff) | ((pasid & 0xffff) << 16), pasid >>> 16];
  return [(op & 0xff) | (pasid << 8), 0];
}

/** Decode a VCMD value. Context: pure. @returns the opcode and operand */
export function decodeVcmd(rev: number, lo: number, hi: number): { op: number; operand: number } {
  if (rev === VCMD_REV_33)
    return { op: lo & 0xff, operand: ((lo >>> 16) | ((hi & 0xf) << 16)) >>> 0 };
  return { op: lo & 0xff, operand: (lo >>> 8) & 0xfffff };
}

/**
 * Encode a VCRSP value.
 *
 * @param rev - VCMD_REV_30 or VCMD_REV_33
 * @param ip - in progress
 * @param sc - status code (2 bits in 3.0, 7 bits in 3.3)
 * @param result - the allocated PASID (0..0xFFFFF)
 *
 * Context: pure.
 * @returns [lo, hi]
 */
export function encodeVcrsp(
  rev: number,
  ip: boolean,
  sc: number,
  result: number,
): [number, number] {
  const r = result & 0xfffff;
  const p = ip ? VCRSP_IP : 0;
  if (rev === VCMD_REV_33) return [p | ((sc & 0x7f) << 1) | ((r & 0xffff) << 16), r >>> 16];
  return [p | ((sc & 0x3) << 1) | (r << 8), 0];
}

/** Decode a VCRSP value. Context: pure. @returns IP, status code and result */
export function decodeVcrsp(
  rev: number,
  lo: number,
  hi: number,
): { ip: boolean; sc: number; result: number } {
  const ip = (lo & VCRSP_IP) !== 0;
  if (rev === VCMD_REV_33)
    return { ip, sc: (lo >>> 1) & 0x7f, result: ((lo >>> 16) | ((hi & 0xf) << 16)) >>> 0 };
  return { ip, sc: (lo >>> 1) & 0x3, result: (lo >>> 8) & 0xfffff };
}
