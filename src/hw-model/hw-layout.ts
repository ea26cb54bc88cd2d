/**
 * The one place that knows every offset into the hardware model's two SharedArrayBuffers:
 * the **hardware buffer** (everything the IOMMU, the devices, the CPUs and the drivers keep)
 * and the **log buffer** (the event log the checker reads, the hardware counters and the ghost
 * allocation tickets). A byte snapshot of the hardware buffer is "the hardware state": an
 * operation that fails leaves it unchanged (counters and the log live in the other buffer).
 *
 * Conventions are those of `../core/ioasid/space-layout.ts`: word indices of Int32 views,
 * "L/S" = Atomics.load/store, "CAS" = Atomics.compareExchange, "immutable" = written by
 * `create()` before the handle exists and never again. Every ring is a claim ring
 * (claim-ring.ts): slot word 0 is the slot's STATE, the ring's meta line holds HEAD and TAIL.
 * Every `gen` word is ghost state: the allocation ticket of the PASID the artifact was made
 * for. Hardware never reads it; the checker compares it (iommu-hw-model.md §7.1).
 *
 * ```text
 * HARDWARE BUFFER
 * region         word index          words              writer(s)               reader(s)          access
 * header         0                   64                 create()                all                immutable
 *   MAGIC 0 'HWMD', VERSION 1, TOTAL 2, PASID_BITS 3, PFS 4, PROCESSES 5, THREADS 6 (per process),
 *   MM_RECORDS 7, BONDS 8, PC_ENTRIES 9, IOTLB_ENTRIES 10, DEVTLB_ENTRIES 11, QI_LENGTH 12,
 *   PRQ_ENTRIES 13, FAULT_RECORDS 14, PRG_SLOTS 15, LEAVES_PER_PF 16, PAGES_PER_MM 17,
 *   LIFETIME 18 (0 mm, 1 bind), MUTATION 19, FLAGS 20 (caching mode, stop marker), SVA_SET 21
 *   (core set id), FREE_SUB 22 (notifier subscriber, -1 = shim chain), ATS_QDEPTH 23,
 *   LAT_INV 24, LAT_EXEC 25, LAT_PRQ 26, PF_BASE 32..39 (word index of each PF region)
 * global         64                  16                 spawn                   spawn              Atomics.add
 *   MM_INSTANCES 64: mm instances created so far (the token's high bits)
 * iommu lock     80                  16 (one line)      translate, processInv,  same               owner lock (owner-lock.ts):
 *                                                       checker scans                              0 free, else owner tag;
 *                                                                                                  PC_VICTIM 81, IOTLB_VICTIM
 *                                                                                                  82 (replacement, locked)
 * qi meta        96                  16                 queueInv (TAIL CAS),    same               claim ring; FSTS 98: IQE bit;
 *                                                       processInv (HEAD)                          API_STATUS 99: status word of
 *                                                                                                  public wait descriptors
 * prq meta       112                 16                 IOMMU (TAIL), PRQ       same, drain scan   claim ring; PRS 114: PPR 1,
 *                                                       service (HEAD), lock                       PRO 2 (Atomics.or/and);
 *                                                       115                                        PRQ_LOCK 115 owner lock
 * fault meta     128                 16                 translate (under the    PRQ service        FLT_HEAD 128, FLT_TAIL 129
 *                                                       IOMMU lock), service                       (L/S), FLT_STATUS 130 (PFO 1)
 * driver wq lock 144                 16                 driver workqueue step   same               owner lock
 * pasid cache    160                 8 * PC_ENTRIES     translate, processInv   checker (locked)   all under the IOMMU lock
 *   TAG +0 (VALID | pf << 20 | pasid), GEN +1, CTRL +2 (entry CTRL snapshot), S1 +3 (mm
 *   record), BIND +4 (ghost: bind ticket of the entry it came from)
 * iotlb          after               8 * IOTLB          same                    same               same
 *   TAG +0, GEN +1, PAGE +2, BIND +4
 * qi ring        after               8 * QI_LENGTH      queueInv (producer),    checker            claim ring slots
 *                                                       processInv (consumer)
 *   STATE +0, HDR +1 (type | gran << 4 | flags << 8), PASID +2, DID +3, PF +4, ARG +5 (page,
 *   PRG index or wait status word), AUX1 +6 (gen, or the wait's value), AUX2 +7 (response code)
 * prq ring       after               8 * PRQ_ENTRIES    IOMMU on a device's     PRQ service,       claim ring slots
 *                                                       page request            drain scan
 *   STATE +0, HDR +1 (LPIG 1 | STOP 2 | prg index << 8), PASID +2, GEN +3, PAGE +4, PF +5,
 *   SLOT +6 (the PF's PRG slot)
 * fault records  after               8 * FAULT_RECORDS  translate (locked)      PRQ service        VALID +0 (L/S, publishes the
 *   REASON +1, PF +2, PASID +3, GEN +4, PAGE +5                                                    rest), cleared by service
 * process slots  after               16 * PROCESSES     spawn, mmExit           all                MM +0: mm record + 1 (L/S);
 *                                                                                                  SPAWNS +1
 * thread slots   after               16 * PROCESSES *   the process's actor,    checker            MSR +0 (VALID bit 31 |
 *                                    THREADS            #GP fix-up, exit                           pasid), MSR_GEN +1,
 *                                                                                                  ACTIVATED +2, MM +3
 * mm records     after               64 * MM_RECORDS    spawn, bind, exit,      PRQ service,       see MM_* below; L/S, CAS
 *                                                       teardown                checker            on CLAIM (spawn), STATE, BOND[]
 * bonds          after               32 * BONDS         bind, teardown          PRQ service (RCU), see B_* below; CAS on CLAIM
 *                                                                               checker            (bind), L/S
 * pf regions     PF_BASE[p]          see PF_* below     device engine, driver   all
 * ```
 *
 * A PF region (one per PF, line-aligned):
 * ```text
 * part           offset              words              writer(s)               reader(s)          access
 * header         +0                  16                 create()                all                immutable: KIND, WIDTH,
 *                                                                                                  FLAGS (ats/pri/pds), N_WQS,
 *                                                                                                  DIR_ENTRIES and bases
 * table lock     +16                 16                 bind, teardown, the     same               owner lock; guards dir and
 *                                                       IOMMU's walk                               leaf writes, LEAF_NEXT, and
 *                                                                                                  makes a walk read an entry
 *                                                                                                  whole (lock order: IOMMU
 *                                                                                                  lock, then table lock)
 * state          +32                 16                 create, enable, leaf    all                ENABLED +32, LEAF_NEXT +33,
 *                                                       allocation, engine                         DEVTLB_VICTIM +34 (IOMMU
 *                                                                                                  lock), WQ_ROTOR +35 (device
 *                                                                                                  lock)
 * device lock    +48                 16                 execute (device engine) same               owner lock
 * command        +64                 16                 driver (CMD CAS), device                   CMD +64: 0 idle, else
 *                                                       engine (STATUS)                            op | owner << 8 (claimed by
 *                                                                                                  CAS); OPERAND +65; STATUS
 *                                                                                                  +66: 0 pending, 1 done, 2 +
 *                                                                                                  error code when failed;
 *                                                                                                  MARKS +67.. (drain marks)
 * swerr          +80                 16                 device engine           PRQ service        SWERR +80 (VALID 1 | OVF 2 |
 *                                                                                                  code << 8), PASID +81, WQ +82,
 *                                                                                                  GEN +83
 * prg meta       +96                 16                 device engine           same               PRG_NEXT_INDEX +96
 * wq config      +112 + 32*w         16 per WQ          driver, device          all                WQCFG: MODE, SIZE, THRESH,
 *                                                                                                  STATE, PASID, FLAGS, GEN,
 *                                                                                                  OWNER (L/S)
 * wq ring meta   +128 + 32*w         16 per WQ          submitters (TAIL),      same               claim ring HEAD/TAIL
 *                                                       device engine (HEAD)
 * wq rings       WQ_RING_BASE[w]     8 * ring size      submitters, engine      drain, checker     claim ring slots:
 *   STATE +0, PASID +1 (pasid | PRIV bit 31), GEN +2, FLAGS +3 (BOF 1), PAGE +4, SUBMITTER +5 (thread + 1)
 * prg slots      PRG_BASE            8 * PRG_SLOTS      device engine, IOMMU    checker            STATE +0 (free, waiting,
 *                                                       (response)                                 abandoned, answered), PASID,
 *                                                                                                  GEN, INDEX, PAGE, FLAGS, WQ,
 *                                                                                                  RESP
 * device tlb     DEVTLB_BASE         8 * DEVTLB_ENTRIES device engine (fill),   checker (locked)   under the device lock
 *                                                       IOMMU (invalidate)                         and the IOMMU lock: see caches.ts
 * pasid dir      DIR_BASE            DIR_ENTRIES        bind (table lock)       translate          L/S: 0 absent, else leaf << 2 |
 *                                                                                                  PRESENT 1 | FPD 2
 * pasid leaves   LEAF_BASE           512 * LEAVES       bind/teardown (table    translate,         8 words per entry: CTRL (P 1,
 *                                                       lock)                   checker            FPD 2, PGTT << 6), DID, S1,
 *                                                                                                  BINDING (mm token), GEN, BIND
 * ```
 *
 * ```text
 * LOG BUFFER
 * region         word index          words              writer(s)               reader(s)          access
 * header         0                   16                 create()                all                immutable: MAGIC 'HWLG',
 *                                                                                                  VERSION, ENTRIES, ROWS
 * control        16                  16                 checker (CONSUMER)      producers          L/S: CONSUMER 16 (1 = events
 *                                                                                                  are kept)
 * ghost          32                  16                 bind (TICKETS)          bind               Atomics.add: allocation tickets
 * ring meta      48                  16                 producers (TAIL),       same               claim ring
 *                                                       consumer (HEAD)
 * shim meta      64                  16                 mm exit (TAIL), the     same               claim ring; SHIM_LOCK 66:
 *                                                       driver (HEAD)                              owner lock of the consumer
 * rows           80                  64 * ROWS          the row's thread        stats()            Atomics.add; per thread,
 *                                                                                                  padded; ROW_OWNER +0 (CAS)
 * ring           80 + 64 * ROWS      8 * ENTRIES        producers               checker            claim ring slots:
 *   STATE +0, KIND +1 (kind | actor << 8), PASID +2, GEN +3, PF +4, A +5, B +6, C +7
 * shim ring      after the ring      4 * SHIM_ENTRIES   mm exit                 the driver         claim ring slots: STATE +0,
 *                                                                                                  PASID +1, DATA +2
 * ```
 * The shim ring stands in for the core's global notifier chain until the core has one
 * (free-notifier.ts); with the core's chain it stays empty.
 *
 * @internal
 */

import { LINE_WORDS } from '../core/cache-line.js';

/** Bumped whenever any index or encoding below changes; `attach` refuses a mismatch. */
export const HW_LAYOUT_VERSION = 1;
/** 'HWMD' in ASCII. */
export const HW_MAGIC = 0x48574d44;
/** 'HWLG' in ASCII. */
export const LOG_MAGIC = 0x48574c47;

// ----------------------------------------------------------------------------------------------
// hardware buffer: header
// ----------------------------------------------------------------------------------------------
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_TOTAL = 2;
export const H_PASID_BITS = 3;
export const H_PFS = 4;
export const H_PROCESSES = 5;
export const H_THREADS = 6;
export const H_MM_RECORDS = 7;
export const H_BONDS = 8;
export const H_PC_ENTRIES = 9;
export const H_IOTLB_ENTRIES = 10;
export const H_DEVTLB_ENTRIES = 11;
export const H_QI_LENGTH = 12;
export const H_PRQ_ENTRIES = 13;
export const H_FAULT_RECORDS = 14;
export const H_PRG_SLOTS = 15;
export const H_LEAVES_PER_PF = 16;
export const H_PAGES_PER_MM = 17;
export const H_LIFETIME = 18;
export const H_MUTATION = 19;
export const H_FLAGS = 20;
export const H_SVA_SET = 21;
export const H_FREE_SUB = 22;
export const H_ATS_QDEPTH = 23;
export const H_LAT_INV = 24;
export const H_LAT_EXEC = 25;
export const H_LAT_PRQ = 26;
export const H_PF_BASE = 32;
export const HEADER_WORDS = 64;

/** H_LIFETIME values. */
export const LIFETIME_MM = 0;
export const LIFETIME_BIND = 1;
/** H_FLAGS bits. */
export const HF_CACHING_MODE = 1;
export const HF_STOP_MARKER = 2;
/** H_FREE_SUB when the FREE chain is the model's own shim (free-notifier.ts). */
export const FREE_SUB_SHIM = -1;

// ----------------------------------------------------------------------------------------------
// hardware buffer: fixed regions
// ----------------------------------------------------------------------------------------------
export const G_MM_INSTANCES = 64;
export const IOMMU_LOCK = 80;
/** Replacement pointers of the PASID cache and the IOTLB (under the IOMMU lock). */
export const IOMMU_PC_VICTIM = 81;
export const IOMMU_IOTLB_VICTIM = 82;
export const QI_META = 96;
export const QI_FSTS = 98;
/** Status word that wait descriptors queued through the public `queueInv` write. */
export const QI_API_STATUS = 99;
export const PRQ_META = 112;
export const PRQ_PRS = 114;
export const PRQ_LOCK = 115;
export const FLT_HEAD = 128;
export const FLT_TAIL = 129;
export const FLT_STATUS = 130;
/** Owner lock of the IOMMU driver's workqueue (one thread steps it at a time). */
export const DRIVER_WQ_LOCK = 144;
export const FIXED_WORDS = 160;

/** Claim-ring meta words, relative to a ring's meta line. */
export const RING_HEAD = 0;
export const RING_TAIL = 1;

/** QI_FSTS bits. */
export const FSTS_IQE = 1;
/** PRQ_PRS bits. */
export const PRS_PPR = 1;
export const PRS_PRO = 2;
/** FLT_STATUS bits. */
export const FLT_PFO = 1;

// PASID cache / IOTLB / device TLB entries (8 words each, 4-way set associative).
export const CACHE_WORDS = 8;
export const CACHE_WAYS = 4;
export const C_TAG = 0;
export const C_GEN = 1;
/** PASID cache: entry CTRL snapshot. IOTLB / device TLB: page. */
export const C_AUX = 2;
/** PASID cache: S1 (mm record the first-level table belongs to). */
export const C_S1 = 3;
/** Ghost: the bind ticket of the PASID-table entry the cache line was filled from. */
export const C_BIND = 4;
/** C_TAG: VALID | pf << 20 | pasid (20 bits). */
export const TAG_VALID = 1 << 30;
export const TAG_PF_SHIFT = 20;
export const TAG_PASID_MASK = 0xfffff;

// Invalidation queue descriptors (8 words).
export const QI_WORDS = 8;
export const QD_STATE = 0;
export const QD_HDR = 1;
export const QD_PASID = 2;
export const QD_DID = 3;
export const QD_PF = 4;
export const QD_ARG = 5;
export const QD_AUX1 = 6;
export const QD_AUX2 = 7;
/** QD_HDR type codes (VT-d, §1.7). */
export const QT_IOTLB_PASID = 0x6;
export const QT_PASID_CACHE = 0x7;
export const QT_DEVTLB_PASID = 0x8;
export const QT_WAIT = 0x5;
export const QT_PAGE_RESPONSE = 0x9;
/** QD_HDR granularity (bits 4..5) for PASID-IOTLB: 2 all of the PASID, 3 one page. */
export const QG_PASID_ALL = 2;
export const QG_PAGE = 3;
/** QD_HDR flags (bits 8..): wait descriptor fence, page-request drain, status write. */
export const QF_FN = 1 << 8;
export const QF_PD = 1 << 9;
export const QF_SW = 1 << 10;

// Page request queue entries (8 words).
export const PRQ_WORDS = 8;
export const PQ_STATE = 0;
export const PQ_HDR = 1;
export const PQ_PASID = 2;
export const PQ_GEN = 3;
export const PQ_PAGE = 4;
export const PQ_PF = 5;
export const PQ_SLOT = 6;
/** PQ_HDR bits. */
export const PQH_LPIG = 1;
export const PQH_STOP = 2;
export const PQH_INDEX_SHIFT = 8;

// Fault records (8 words).
export const FAULT_WORDS = 8;
export const FR_VALID = 0;
export const FR_REASON = 1;
export const FR_PF = 2;
export const FR_PASID = 3;
export const FR_GEN = 4;
export const FR_PAGE = 5;

// Process slots.
export const PROCESS_WORDS = LINE_WORDS;
export const PS_MM = 0;
export const PS_SPAWNS = 1;

// Thread slots.
export const THREAD_WORDS = LINE_WORDS;
export const TH_MSR = 0;
export const TH_MSR_GEN = 1;
export const TH_ACTIVATED = 2;
export const TH_MM = 3;
/** IA32_PASID valid bit (bit 31); the PASID is bits 19:0. */
export const MSR_VALID = 1 << 31;

// mm records (one per process instance).
export const MM_WORDS = 64;
export const MM_TOKEN = 0;
export const MM_STATE = 1;
export const MM_PASID = 2;
export const MM_GEN = 3;
export const MM_PENDING_TICKET = 4;
export const MM_SVM_REF = 5;
export const MM_FREE_STATE = 6;
export const MM_PID = 7;
export const MM_BOND = 8;
export const MM_PORTAL = 16;
export const MM_DWQ = 24;
export const MM_PAGES = 32;
export const MM_MAX_PAGE_WORDS = 16;
/** Claim word: pid + 1 of the process slot that claimed the record (0 = free). */
export const MM_CLAIM = 48;
/** MM_STATE values. */
export const MMS_FREE = 0;
export const MMS_ALIVE = 1;
export const MMS_EXITING = 2;
export const MMS_DEAD = 3;
/** MM_SVM_REF: the IOMMU driver's reference on the PASID while it has bonds (mm lifetime). */
export const SVM_NONE = 0;
export const SVM_GETTING = 1;
export const SVM_HELD = 2;
export const SVM_PUTTING = 3;
/** MM_FREE_STATE: the mm's own reference (from alloc) given back at exit. */
export const FREE_NONE = 0;
export const FREE_FREEING = 1;
export const FREE_DONE = 2;
/** Token: instance << TOKEN_INSTANCE_SHIFT | record index (records < 4096). */
export const TOKEN_INSTANCE_SHIFT = 12;
export const TOKEN_RECORD_MASK = 0xfff;

// Bonds (one per (pf, mm) while bound; two lines each).
export const BOND_WORDS = 2 * LINE_WORDS;
export const B_STATE = 0;
export const B_STAMP = 1;
export const B_PF = 2;
export const B_PASID = 3;
export const B_GEN = 4;
export const B_MM = 5;
export const B_TOKEN = 6;
export const B_REFS = 7;
export const B_PHASES = 8;
export const B_FLAGS = 9;
export const B_OWNER = 10;
export const B_WAIT_TICKET = 11;
export const B_WAIT_STATUS = 12;
export const B_COOKIE_LO = 13;
export const B_COOKIE_HI = 14;
export const B_SUB = 15;
/** Claim word: mm record + 1 of the bind that claimed the bond (0 = free; cleared last). */
export const B_CLAIM = 16;
/** Ghost: the bind ticket (from the log buffer's ticket counter). */
export const B_BIND = 17;
/** B_STATE values. */
export const BS_FREE = 0;
export const BS_BINDING = 1;
export const BS_LIVE = 2;
export const BS_DYING = 3;
/** B_FLAGS bits. */
export const BF_EXCEPTION = 1;
export const BF_FPD = 2;
export const BF_HANDED_OVER = 4;
/** The driver's reference was already dropped (only early, under mutation reclaim-at-p2). */
export const BF_REF_DROPPED = 8;
/** B_OWNER: 0 nobody drives the teardown yet, else the driving actor's id + 1. */
export const OWNER_NONE = 0;
/** Teardown phases (§7.5): P0 .. P7 are bits of B_PHASES; P8 is the core's reclaim. */
export const P0_STOP_SUBMISSION = 0;
export const P1_DEVICE_QUIESCED = 1;
export const P2_ENTRY_CLEARED = 2;
export const P3_PASID_CACHE = 3;
export const P4_IOTLB = 4;
export const P5_DEVTLB = 5;
export const P6_PRQ_DRAINED = 6;
export const P7_REFS_DROPPED = 7;
export const P8_RECLAIMED = 8;

// PF region.
export const PF_KIND = 0;
export const PF_WIDTH = 1;
export const PF_FLAGS = 2;
export const PF_N_WQS = 3;
export const PF_DIR_ENTRIES = 4;
export const PF_DIR_BASE = 5;
export const PF_LEAF_BASE = 6;
export const PF_DEVTLB_BASE = 7;
export const PF_PRG_BASE = 8;
export const PF_DEVTLB_ENTRIES = 9;
export const PF_TABLE_LOCK = 16;
export const PF_ENABLED = 32;
export const PF_LEAF_NEXT = 33;
/** Device-TLB replacement pointer (under the IOMMU lock) and the engine's WQ rotor. */
export const PF_DEVTLB_VICTIM = 34;
export const PF_WQ_ROTOR = 35;
export const PF_DEVICE_LOCK = 48;
export const PF_CMD = 64;
export const PF_CMD_OPERAND = 65;
export const PF_CMD_STATUS = 66;
/** Drain marks: for each WQ, the ring TAIL when the drain command was accepted. */
export const PF_CMD_MARKS = 67;
export const PF_SWERR = 80;
export const PF_SWERR_PASID = 81;
export const PF_SWERR_WQ = 82;
export const PF_SWERR_GEN = 83;
export const PF_PRG_NEXT_INDEX = 96;
export const PF_WQ_BASE = 112;
export const PF_WQ_STRIDE = 32;
export const PF_HEADER_WORDS = PF_WQ_BASE;
/** PF_KIND values. */
export const KIND_DSA = 0;
export const KIND_NIC = 1;
/** PF_FLAGS bits. */
export const PFF_ATS = 1;
export const PFF_PRI = 2;
export const PFF_PDS = 4;
/** Device command opcodes (DSA numbering where it has one, §2.4). */
export const CMD_ENABLE_WQ = 1;
export const CMD_DISABLE_WQ = 3;
export const CMD_DRAIN_PASID = 11;
export const CMD_ABORT_PASID = 12;
export const CMD_OWNER_SHIFT = 8;
/** PF_CMD owner of commands posted through the public API (teardowns use bond + 1). */
export const CMD_OWNER_API = 0x7fff;
/** PF_CMD_STATUS values: pending (posted), accepted (marks taken), done, or ERROR | code. */
export const CMDS_PENDING = 0;
export const CMDS_DONE = 1;
export const CMDS_ACCEPTED = 2;
export const CMDS_ERROR = 0x100;
/** Device command error codes (§2.4). */
export const CMDERR_DEVICE_DISABLED = 0x20;
export const CMDERR_WQ_PASID = 0x26;
export const CMDERR_WQ_STATE = 0x32;
/** PF_SWERR bits. */
export const SWERR_VALID = 1;
export const SWERR_OVF = 2;
export const SWERR_CODE_SHIFT = 8;

// WQ config (relative to the WQ's config line).
export const WQ_MODE = 0;
export const WQ_SIZE = 1;
export const WQ_THRESH = 2;
export const WQ_STATE = 3;
export const WQ_PASID = 4;
export const WQ_FLAGS = 5;
export const WQ_GEN = 6;
export const WQ_OWNER = 7;
export const WQ_RING_BASE = 8;
export const WQ_RING_SIZE = 9;
/** The ring meta line follows the config line. */
export const WQ_META = LINE_WORDS;
/** WQ_MODE values. */
export const WQM_SHARED = 0;
export const WQM_DEDICATED = 1;
/** WQ_STATE values. */
export const WQS_DISABLED = 0;
export const WQS_ENABLED = 1;
export const WQS_DISABLING = 2;
/** WQ_FLAGS bits. */
export const WQF_PASID_EN = 1;
export const WQF_PRIV = 2;

// WQ descriptors (8 words).
export const DESC_WORDS = 8;
export const D_STATE = 0;
export const D_PASID = 1;
export const D_GEN = 2;
export const D_FLAGS = 3;
export const D_PAGE = 4;
export const D_SUBMITTER = 5;
/** D_PASID bit: supervisor request. */
export const DESC_PRIV = 1 << 31;
/** D_FLAGS bits. */
export const DF_BOF = 1;

// PRG slots (8 words): outstanding page-request groups and the descriptor blocked on each.
export const PRG_WORDS = 8;
export const G_STATE = 0;
export const G_PASID = 1;
export const G_GEN = 2;
export const G_INDEX = 3;
export const G_PAGE = 4;
export const G_FLAGS = 5;
export const G_WQ = 6;
export const G_RESP = 7;
/** G_STATE values. */
export const PRG_FREE = 0;
export const PRG_WAITING = 1;
export const PRG_ANSWERED = 2;
export const PRG_ABANDONED = 3;
/** Page group response codes (§1.7). */
export const RESP_SUCCESS = 0;
export const RESP_INVALID = 1;
export const RESP_FAILURE = 0xf;

// PASID directory and leaves.
export const DIR_PRESENT = 1;
export const DIR_FPD = 2;
export const DIR_LEAF_SHIFT = 2;
export const LEAF_ENTRIES = 64;
export const ENTRY_WORDS = 8;
export const E_CTRL = 0;
export const E_DID = 1;
export const E_S1 = 2;
export const E_BINDING = 3;
export const E_GEN = 4;
/** Ghost: the bind ticket of the bond that programmed the entry (a re-bind of the same
 * generation gets a new one, so the checker can tell its cache lines from the old bond's). */
export const E_BIND = 5;
/** E_CTRL bits. */
export const EC_PRESENT = 1;
export const EC_FPD = 2;
export const EC_PGTT_SHIFT = 6;
/** PGTT values (§1.4). */
export const PGTT_FL_ONLY = 1;
export const PGTT_SL_ONLY = 2;
export const PGTT_NESTED = 3;
export const PGTT_PT = 4;
/** FLPT_DEFAULT_DID: the domain id of every host SVA entry. */
export const SVA_DID = 1;

// ----------------------------------------------------------------------------------------------
// log buffer
// ----------------------------------------------------------------------------------------------
export const L_MAGIC = 0;
export const L_VERSION = 1;
export const L_ENTRIES = 2;
export const L_ROWS = 3;
export const L_CONSUMER = 16;
export const L_TICKETS = 32;
export const L_RING_META = 48;
export const L_SHIM_META = 64;
export const L_SHIM_LOCK = 66;
export const L_ROWS_BASE = 80;
export const SHIM_ENTRIES = 256;
export const SHIM_WORDS = 4;
export const SH_PASID = 1;
export const SH_DATA = 2;
export const ROW_WORDS = 64;
export const ROW_OWNER = 0;
/** First counter word of a row (counters.ts numbers them). */
export const ROW_COUNTERS = 1;
export const EVENT_WORDS = 8;
export const EV_STATE = 0;
export const EV_KIND = 1;
export const EV_PASID = 2;
export const EV_GEN = 3;
export const EV_PF = 4;
export const EV_A = 5;
export const EV_B = 6;
export const EV_C = 7;
export const EV_ACTOR_SHIFT = 8;

// ----------------------------------------------------------------------------------------------
// geometry
// ----------------------------------------------------------------------------------------------

/** What the layout of the hardware buffer depends on (all immutable after create). */
export interface HwShape {
  pasidBits: number;
  processes: number;
  threadsPerProcess: number;
  mmRecords: number;
  bonds: number;
  pcEntries: number;
  iotlbEntries: number;
  devTlbEntries: number;
  qiLength: number;
  prqEntries: number;
  faultRecords: number;
  prgSlots: number;
  leavesPerPf: number;
  pagesPerMm: number;
  pfs: PfShape[];
}

/** What a PF region's layout depends on. */
export interface PfShape {
  kind: number;
  width: number;
  flags: number;
  wqs: { mode: number; size: number; threshold: number }[];
}

/** Every base index of the hardware buffer. */
export interface HwGeometry {
  shape: HwShape;
  pcBase: number;
  iotlbBase: number;
  qiBase: number;
  prqBase: number;
  faultBase: number;
  processBase: number;
  threadBase: number;
  mmBase: number;
  bondBase: number;
  pf: PfGeometry[];
  totalWords: number;
}

/** Bases of one PF region. */
export interface PfGeometry {
  base: number;
  dirEntries: number;
  dirBase: number;
  leafBase: number;
  devTlbBase: number;
  devTlbEntries: number;
  prgBase: number;
  /** Per WQ: config line, ring base, ring size (a power of two >= size). */
  wqCfg: number[];
  wqRing: number[];
  wqRingSize: number[];
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function lineUp(n: number): number {
  return Math.ceil(n / LINE_WORDS) * LINE_WORDS;
}

/**
 * Compute every base from the shape; create() and attach() call it with the same shape.
 *
 * @param s - the shape (from the profile at create, from the header at attach)
 *
 * Context: pure.
 * @returns the geometry
 */
export function hwGeometry(s: HwShape): HwGeometry {
  let at = FIXED_WORDS;
  const take = (words: number): number => {
    const base = at;
    at = lineUp(at + words);
    return base;
  };
  const pcBase = take(CACHE_WORDS * s.pcEntries);
  const iotlbBase = take(CACHE_WORDS * s.iotlbEntries);
  const qiBase = take(QI_WORDS * s.qiLength);
  const prqBase = take(PRQ_WORDS * s.prqEntries);
  const faultBase = take(FAULT_WORDS * s.faultRecords);
  const processBase = take(PROCESS_WORDS * s.processes);
  const threadBase = take(THREAD_WORDS * s.processes * s.threadsPerProcess);
  const mmBase = take(MM_WORDS * s.mmRecords);
  const bondBase = take(BOND_WORDS * s.bonds);
  const pf: PfGeometry[] = s.pfs.map((p) => {
    const base = take(PF_HEADER_WORDS + PF_WQ_STRIDE * p.wqs.length);
    const wqCfg = p.wqs.map((_, w) => base + PF_WQ_BASE + PF_WQ_STRIDE * w);
    const wqRingSize = p.wqs.map((w) => pow2AtLeast(w.size));
    const wqRing = wqRingSize.map((n) => take(DESC_WORDS * n));
    const prgBase = take(PRG_WORDS * s.prgSlots);
    const devTlbEntries = p.flags & PFF_ATS ? s.devTlbEntries : 0;
    const devTlbBase = take(CACHE_WORDS * devTlbEntries);
    const dirEntries = 2 ** Math.max(0, Math.min(s.pasidBits, p.width) - 6);
    const dirBase = take(dirEntries);
    const leafBase = take(s.leavesPerPf * LEAF_ENTRIES * ENTRY_WORDS);
    return {
      base,
      dirEntries,
      dirBase,
      leafBase,
      devTlbBase,
      devTlbEntries,
      prgBase,
      wqCfg,
      wqRing,
      wqRingSize,
    };
  });
  return {
    shape: s,
    pcBase,
    iotlbBase,
    qiBase,
    prqBase,
    faultBase,
    processBase,
    threadBase,
    mmBase,
    bondBase,
    pf,
    totalWords: at,
  };
}

/** Word index of process slot `pid`. */
export function processWord(g: HwGeometry, pid: number): number {
  return g.processBase + PROCESS_WORDS * pid;
}

/** Word index of thread slot `tid` (process pid's threads are pid * T .. pid * T + T - 1). */
export function threadWord(g: HwGeometry, tid: number): number {
  return g.threadBase + THREAD_WORDS * tid;
}

/** Word index of mm record `rec`. */
export function mmWord(g: HwGeometry, rec: number): number {
  return g.mmBase + MM_WORDS * rec;
}

/** Word index of bond `b`. */
export function bondWord(g: HwGeometry, b: number): number {
  return g.bondBase + BOND_WORDS * b;
}

/** Word index of PASID-table entry `pasid` in leaf `leaf` of PF `pf`. */
export function entryWord(g: HwGeometry, pf: number, leaf: number, pasid: number): number {
  return g.pf[pf]!.leafBase + (leaf * LEAF_ENTRIES + (pasid & (LEAF_ENTRIES - 1))) * ENTRY_WORDS;
}

/** Word index of log-buffer row `row`. */
export function rowWord(row: number): number {
  return L_ROWS_BASE + ROW_WORDS * row;
}

/** Word index of the log ring's first slot. */
export function logRingBase(rows: number): number {
  return L_ROWS_BASE + ROW_WORDS * rows;
}

/** Word index of the shim ring's first slot. */
export function shimRingBase(rows: number, entries: number): number {
  return logRingBase(rows) + EVENT_WORDS * entries;
}

/** Total words of a log buffer. */
export function logWords(rows: number, entries: number): number {
  return shimRingBase(rows, entries) + SHIM_WORDS * SHIM_ENTRIES;
}
