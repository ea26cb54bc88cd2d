/**
 * Result codes of the model's operations that are not errnos: translation results and fault
 * reasons (VT-d §1.5), ENQCMD outcomes (§2.3), completion statuses (§2.4).
 *
 * Developer notes: a leaf module (no imports) so that every other module can use it.
 */

/** VT-d fault reasons (§1.5, §7.7). */
export const FaultReason = Object.freeze({
  /** PASID-directory entry not present. */
  SPD2: 0x51,
  /** PASID-table entry not present. */
  SPT2: 0x59,
  /** PASID-table entry present with an invalid programming (PGTT/AW). */
  SPT4: 0x5b,
} as const);

/**
 * `translate` results: >= 0 the translated page; `-FaultReason.X` a non-recoverable fault
 * (recorded unless FPD); TR_NOT_MAPPED the entry is present but the page is not mapped (a
 * device with PRI issues a page request; one without faults).
 */
export const TR_NOT_MAPPED = -2;

/** `enqcmd`/`enqcmds` result: accepted (ZF = 0). */
export const ZF_ACCEPTED = 0;
/** `enqcmd`/`enqcmds` result: retry (ZF = 1, payload dropped, nothing changed). */
export const ZF_RETRY = 1;

/** Completion-record statuses (DSA uapi, §2.4) the model writes. */
export const CompletionStatus = Object.freeze({
  /** Done. */
  SUCCESS: 1,
  /** Page fault without block-on-fault (or a page request answered Invalid). */
  PAGE_FAULT: 3,
  /** Completion record unwritable (translation fault): reported through SWERR. */
  TRANSLATION_FAULT: 0x1a,
  /** Model value: aborted by Abort PASID or a drain in stop-marker mode. */
  ABORTED: 0xff,
} as const);

/** SWERR error codes the device latches (model values, §2.4). */
export const SwerrCode = Object.freeze({
  /** A descriptor's PASID did not translate (entry not present): the record is unwritable. */
  TRANSLATION_FAULT: 0x1a,
  /** MOVDIR64B into a full dedicated WQ: the descriptor was dropped. */
  WQ_OVERFLOW: 0x31,
} as const);
