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
 * vm regions     VM_BASE + v*STRIDE  see VM_* below     VMM, vCPUs, KVM, VDCM,  all
 *                                                       the IOMMU driver
 * mdevs          MDEV_BASE + 32*m    32 each            create (placement),     all                MD_* below; slot STATE by
 *                                                       VDCM (slots)                               CAS, PASID/GEN L/S under it
 * ```
 *
 * A VM region (one per VM, line-aligned; iommu-hw-model.md §7.3 "VM", "vcmd channel"):
 * ```text
 * part           offset              words              writer(s)               reader(s)          access
 * header         +0                  16                 VMM (boot, destroy),    all                VM_STATE (CAS), INSTANCE,
 *                                                       KVM (EPOCH, SEQ)                           SET, TOKEN, EPOCH (Atomics.add),
 *                                                                                                  SUB_* (subscriber ids), VMCS
 *                                                                                                  SEQ (seqlock), LEAF_NEXT,
 *                                                                                                  PENDING_TICKET (VMM alloc
 *                                                                                                  intent)
 * locks          +16                 16                 kernel consumers, VMM   same               owner locks: KERNEL (chain
 *                                                                                                  reads + ordered workqueue),
 *                                                                                                  VMM (one VMM step); VMM_OP
 * work ring meta +32                 16                 kernel consumers        same               claim ring HEAD/TAIL
 * viommu i       +48 + 32*i          32 each            guest vCPU (VCMD, PT_*) the VMM            REGS +0..15: the register
 *                                                       the VMM (VCRSP)                            page 0xE00..0xE3F as 8 qwords
 *                                                                                                  (lo, hi), rev 3.0 or 3.3
 *                                                                                                  offsets (vcmd-regs.ts);
 *                                                                                                  GUEST_LOCK +16 (owner lock,
 *                                                                                                  one command in flight);
 *                                                                                                  RESULT_GEN +17 (ghost);
 *                                                                                                  PT mailbox +18..+24
 * vcpu slots     after               32 each            the vCPU (ACK, MSR,     KVM (ACK, STATE),  L/S; KICK by KVM (store) and
 *                                                       BUSY), KVM (KICK)       reaper             the vCPU (exchange); words
 *                                                                                                  +0..+5, then a guard line
 *                                                                                                  (see VCPU_WORDS)
 * guest procs    after               16 each            the guest (its vCPUs)   checker (no)       guest memory: GP_* (L/S,
 *                                                                                                  STATE by CAS)
 * vpasid records after               16 each            the VMM, the IOMMU      KVM, VDCM, scans   VP_STATE (CAS), the rest L/S
 *                                                       driver (BOND, REF)                         by the state's owner
 * work ring      after               8 * WORK_ENTRIES   kernel consumers        same               claim ring slots: WK_*
 * vmcs dir       after               1024               KVM (under KERNEL)      vCPUs (seqlock)    0 absent, else leaf + 1
 * vmcs leaves    after               8 * 1024 * LEAVES  KVM (under KERNEL)      vCPUs (seqlock),   VE_* below
 *                                                                                                  scans
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
 * command        +64                 16                 driver (CMD CAS), device                   CMD +64: 0 idle, else op |
 *                                                       engine (STATUS CAS)                        owner << 8 | seq << 24
 *                                                                                                  (claimed by CAS; seq 1..255
 *                                                                                                  from the log's CMD_SEQ);
 *                                                                                                  OPERAND +65; STATUS +66:
 *                                                                                                  status | seq << 24 (0
 *                                                                                                  pending, 1 done, 2 accepted,
 *                                                                                                  0x100 + error code); MARKS
 *                                                                                                  +67.. (drain marks)
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
 * ghost          32                  16                 bind (TICKETS),         bind, device       Atomics.add: allocation tickets;
 *                                                       command posters                            CMD_SEQ +33: device command
 *                                                       (CMD_SEQ)                                  publications (PF_CMD's seq)
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
 * vm chains      after the shim      16 + 4 * VM_SHIM   emitters of BIND,       the VM's kernel    per VM: claim ring meta line,
 *                                    per VM             UNBIND, FREE (shim)     consumers          then slots STATE, EVENT, ID,
 *                                                                                                  SPID (vm-chain.ts)
 * vm stats       after               16 per VM          vCPUs, VMM              reports            Atomics.add: VS_* below
 * ```
 * The shim ring stands in for the core's global notifier chain until the core has one
 * (free-notifier.ts); with the core's chain it stays empty.
 *
 * @internal
 */

import { GUARD_WORDS, LINE_WORDS } from '../core/cache-line.js';

/**
 * Bumped whenever any index or encoding below changes; `attach` refuses a mismatch. 5: vCPU
 * slots are 32 words (a guard line after the six words, see VCPU_WORDS).
 */
export const HW_LAYOUT_VERSION = 5;
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
/** VM part of the header (part 2): sizes and the bases of the VM and mdev regions. */
export const H_VMS = 40;
export const H_VCPUS = 41;
export const H_VIOMMUS = 42;
export const H_MDEVS = 43;
export const H_VM_PASIDS = 44;
export const H_VMCS_LEAVES = 45;
export const H_VCMD_REV = 46;
export const H_GUEST_MODE = 47;
export const H_LAT_VMEXIT = 48;
export const H_VM_QUOTA = 49;
export const H_HOST_BONDS = 50;
export const H_VM_BASE = 51;
export const H_VM_STRIDE = 52;
export const H_MDEV_BASE = 53;
export const H_GUEST_PROCS = 54;
/** Priority the IOMMU driver's guest subscriber registers with (NotifierPriority). */
export const H_IOMMU_PRIO = 55;
/** Reserved PASIDs held from create() on in a set of their own, never logged (checker: INV-12). */
export const H_RESERVED_IDS = 56;
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
/** A guest bond (nested entry of a VM's PASID); B_MM = vm << 16 | VMM record. */
export const BF_GUEST = 16;
/** B_CLAIM of a guest bond: GUEST_CLAIM_BASE + vm << 12 + record (never an mm record + 1). */
export const GUEST_CLAIM_BASE = 0x1000000;
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
/** PF_CMD owner field mask (after the shift): bond + 1, CMD_OWNER_API, CMD_OWNER_VDCM + mdev. */
export const CMD_OWNER_MASK = 0xffff;
/**
 * PF_CMD and PF_CMD_STATUS: the command's sequence number (1..255, never 0: an idle register
 * and a released status are 0) in the top byte. Every publication of a command takes the
 * next one (L_CMD_SEQ), and the engine's status writes name it, so a step that read an older
 * command never takes a newer one with the same owner and op for it (ABA), nor completes it
 * (device.ts).
 */
export const CMD_SEQ_SHIFT = 24;
/** PF_CMD_STATUS: the status bits below the sequence number. */
export const CMD_STATUS_MASK = 0xffffff;
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
// VMs (part 2): VM regions, vIOMMUs, vCPUs, guest memory, VMM records, VMCS tables, mdevs
// ----------------------------------------------------------------------------------------------
export const VM_STATE = 0;
export const VM_INSTANCE = 1;
export const VM_SET = 2;
export const VM_TOKEN = 3;
export const VM_EPOCH = 4;
export const VM_SUB_KVM = 5;
export const VM_SUB_VDCM = 6;
export const VM_SUB_IOMMU = 7;
/** The previous instance's subscribers, read until drained after a reboot (-1 none). */
export const VM_OLD_SUB_KVM = 8;
export const VM_OLD_SUB_VDCM = 9;
export const VM_OLD_SUB_IOMMU = 10;
export const VM_VMCS_SEQ = 11;
export const VM_LEAF_NEXT = 12;
/** VMM alloc intent: the ticket recorded before `alloc` (0 none). */
export const VM_PENDING_TICKET = 13;
/** The set of the previous instance while it is being torn down (-1 none). */
export const VM_OLD_SET = 14;
/** Consumers (bit per KVM/VDCM/IOMMU) that lost events and must rescan (vm-kernel.ts). */
export const VM_RESCAN = 15;
export const VM_KERNEL_LOCK = 16;
export const VM_VMM_LOCK = 17;
/** The VMM operation in flight (an intent for recovery): VMOP_* | record << 8. */
export const VM_VMM_OP = 18;
/**
 * DYING: 1 once the VMM freed the VM's records, which it does only after every vCPU left the
 * guest (vm-ops.ts vmFreeRecordsOnceStopped); 0 from boot.
 */
export const VM_RECORDS_FREED = 19;
export const VM_WORK_META = 32;
export const VM_VIOMMU_BASE = 48;
export const VIOMMU_WORDS = 32;
/** vIOMMU words (relative to the vIOMMU block). REGS: 8 qwords (lo, hi) from 0xE00. */
export const VI_REGS = 0;
export const VI_GUEST_LOCK = 16;
export const VI_RESULT_GEN = 17;
/** PASID-table trap mailbox (the guest's PASID-cache invalidation, handled by the VMM). */
export const VI_PT_STATE = 18;
export const VI_PT_OP = 19;
export const VI_PT_MDEV = 20;
export const VI_PT_GPASID = 21;
export const VI_PT_ARG = 22;
export const VI_PT_RESULT = 23;
export const VI_PT_LOCK = 24;
/** VI_PT_STATE values. */
export const PT_IDLE = 0;
export const PT_POSTED = 1;
export const PT_DONE = 2;
/** VI_PT_OP values. */
export const PTOP_BIND = 1;
export const PTOP_UNBIND = 2;
/** VM_STATE values. */
export const VMS_OFF = 0;
export const VMS_RUNNING = 1;
/** Crashed: its threads are stopped and the reaper resolves what they left half done. */
export const VMS_CRASHED = 2;
/** Destroyed: its set is freed; consumers tear its PASIDs down; then it reboots. */
export const VMS_DYING = 3;
export const VMS_BOOTING = 4;
/** VM_VMM_OP values (low byte; the record index above it). */
export const VMOP_NONE = 0;
export const VMOP_ALLOC = 1;
export const VMOP_FREE = 2;
export const VMOP_BIND = 3;
export const VMOP_UNBIND = 4;

// vCPU slots (one line of words, then a guard line).
/**
 * Why the guard: a vCPU writes MSR (+3) at every guest ENQCMD, EXIT_IN (+5) at every step of a
 * pending exit, KICK and ACK (+2, +1) at every VM entry, and loads STATE (+0) at every step. A
 * SharedArrayBuffer may start 16, 32 or 48 bytes past a real line (src/core/cache-line.ts
 * GUARD_WORDS), so with one-line slots vCPU c's +4..+5 shared a real line with vCPU c+1's
 * +0..+3. Per-slot audit of this buffer (which words an owner writes per operation, and
 * whether two owners' can share a real line): process slots write +0..+1 and thread slots
 * +0..+3 (the slot's first 16 bytes: safe); guest processes, vPASID records, mm records,
 * bonds, vIOMMUs and mdevs are per-object records written by whichever actor works on the
 * object, not per-thread slots (mm records end 13 words before the next: safe anyway).
 */
export const VCPU_WORDS = LINE_WORDS + GUARD_WORDS;
export const VC_STATE = 0;
/** The VMCS epoch this vCPU acknowledged at its last VM entry. */
export const VC_ACK = 1;
/** KVM asked for a VM exit (1); the vCPU takes it after a latency. */
export const VC_KICK = 2;
/** The guest's IA32_PASID: MSR_VALID | guest PASID. */
export const VC_MSR = 3;
/** 1 while the vCPU is inside a step (the reaper waits for live vCPUs to leave). */
export const VC_BUSY = 4;
/** Steps left before a pending exit is taken (-1 none pending). */
export const VC_EXIT_IN = 5;
/** VC_STATE values. */
export const VCS_OFFLINE = 0;
export const VCS_IN_GUEST = 1;

// Guest processes (guest memory: what the guest kernel knows of each of its processes).
export const GPROC_WORDS = LINE_WORDS;
export const GP_STATE = 0;
export const GP_GPASID = 1;
/** mdev + 1 the PASID is bound through (0 none). */
export const GP_MDEV = 2;
/** 1 when the PASID is programmed into the mdev (VDCM holds a reference). */
export const GP_PROGRAMMED = 3;
/** The guest PASID this process used before (a stale value for a misbehaving guest). */
export const GP_STALE = 4;
/** GP_STATE values. */
export const GPS_NONE = 0;
export const GPS_ALLOCATED = 1;
export const GPS_BOUND = 2;

// VMM / IOMMU-driver records of a VM's host PASIDs.
export const VPASID_WORDS = LINE_WORDS;
export const VP_STATE = 0;
export const VP_PASID = 1;
export const VP_GEN = 2;
/** The guest PASID (the SPID; = PASID in identity mode). */
export const VP_GPASID = 3;
/** The IOMMU driver's reference (REF_* states). */
export const VP_IOMMU_REF = 4;
/** 1 while the SPID is attached (BIND sent, UNBIND not yet). */
export const VP_SPID = 5;
/** Ghost: the bind ticket of the first bind (for traces). */
export const VP_BIND = 6;
/** spid mode: the last unbind's teardown is over; the VMM owes the host PASID's free. */
export const VP_FREE_OWED = 7;
/** Bond + 1 per PF (0: not bound there). */
export const VP_BOND = 8;
/** VP_STATE values. */
export const VPS_FREE = 0;
export const VPS_LIVE = 1;
/** Freed by the VMM (the core may still hold it free-pending). */
export const VPS_FREED = 2;
/** Reference states of a consumer (IOMMU driver, VDCM slot). */
export const REF_NONE = 0;
export const REF_GETTING = 1;
export const REF_HELD = 2;
export const REF_PUTTING = 3;

// The VM's ordered kernel workqueue (consumer work deferred from notifier handlers).
export const WORK_WORDS = 8;
/**
 * Work items a VM's kernel can have queued: a guest crash with 500 bound PASIDs (vm-crash)
 * queues a KVM, a VDCM and an IOMMU item per PASID, and a guest that unbinds and frees them
 * all queues two of each. With 2048 entries the wind-down of 500 bound PASIDs filled it, the
 * handlers fell back to a rescan, and a teardown went from UNBIND to P2 with no P0 (INV-6):
 * the rescan path is not a full substitute, so the ring is sized never to fill.
 */
export const WORK_ENTRIES = 8192;
export const WK_STATE = 0;
export const WK_KIND = 1;
export const WK_PASID = 2;
export const WK_GEN = 3;
export const WK_ARG = 4;
export const WK_SUB = 5;
export const WK_AUX = 6;
export const WK_AUX2 = 7;
/** WK_KIND values. */
export const WORK_KVM_ACK = 1;
export const WORK_VDCM_CLEAR = 2;
export const WORK_IOMMU_TEARDOWN = 3;
export const WORK_KVM_PROGRAM = 4;
export const WORK_DEVICE_UNBIND = 5;

// VMCS PASID translation table (§2.6; geometry [R]): a 1024-entry directory (guest PASID
// bits 19:10: the low and high directories of 512 side by side) of leaves of 1024 entries
// (bits 9:0), 8 words per entry.
export const VMCS_DIR_ENTRIES = 1024;
export const VMCS_LEAF_ENTRIES = 1024;
export const VMCS_ENTRY_WORDS = 8;
/** The current translation: VALID (bit 31) | host PASID. */
export const VE_CUR = 0;
export const VE_GEN = 1;
/** The translation before the last change (what a vCPU that has not acknowledged it uses). */
export const VE_OLD = 2;
export const VE_OLD_GEN = 3;
/** The VMCS epoch of the last change. */
export const VE_EPOCH = 4;
/** The host PASID KVM holds a reference on for this entry (0 none), and its generation. */
export const VE_REF = 5;
export const VE_REF_GEN = 6;
/**
 * KVM's reference (REF_*): GETTING from before the core's get until its GET is logged, HELD,
 * PUTTING from before its PUT is logged until VE_REF is cleared (a reaper finishes either:
 * kvm.ts `kvmResolveRefs`).
 */
export const VE_REF_STATE = 7;
/** VE_CUR / VE_OLD valid bit. */
export const VE_VALID = 1 << 31;

// mdevs (ADIs of a PF assigned to a VM, §2.5).
export const MDEV_WORDS = 2 * LINE_WORDS;
export const MD_VM = 0;
export const MD_PF = 1;
export const MD_WQ = 2;
export const MD_TYPE = 3;
/** Owner of device commands the VDCM posts for this mdev: CMD_OWNER_VDCM + mdev. */
export const CMD_OWNER_VDCM = 0x8000;
/** MD_TYPE values. */
export const MDT_SWQ = 0;
export const MDT_DWQ = 1;
/** PASID slots: PASIDs the guest programmed into the mdev (the VDCM holds a reference each). */
export const MD_SLOTS = 8;
export const MD_SLOT_COUNT = 8;
export const MD_SLOT_WORDS = 3;
export const SL_PASID = 0;
export const SL_GEN = 1;
export const SL_STATE = 2;
/** WQ_OWNER of a DWQ assigned to an mdev: -(mdev + 1) (host tokens are positive). */
export function mdevWqOwner(mdev: number): number {
  return -(mdev + 1);
}
/** The token of VM `vm`'s IOASID set and the data of its PASIDs: low 12 bits 0xfff, which no
 * mm record index reaches (records < 4096 and < 2 * processes <= 512). */
export function vmToken(vm: number, instance: number): number {
  return (((instance & 0x3ff) << 18) | ((vm & 0x3f) << 12) | 0xfff) & 0x7fffffff;
}
/** True when `token` is a VM's (vmToken), not an mm's. */
export function isVmToken(token: number): boolean {
  return (token & 0xfff) === 0xfff;
}
/** The VM index of a VM token. */
export function vmOfToken(token: number): number {
  return (token >>> 12) & 0x3f;
}

// ----------------------------------------------------------------------------------------------
// log buffer
// ----------------------------------------------------------------------------------------------
export const L_MAGIC = 0;
export const L_VERSION = 1;
export const L_ENTRIES = 2;
export const L_ROWS = 3;
export const L_VMS = 4;
export const L_CONSUMER = 16;
export const L_TICKETS = 32;
/**
 * Device command publications, all PFs (device.ts): each takes the next, and PF_CMD carries
 * it mod 255, plus 1. Here, not in the PF's registers, so that a refused command leaves the
 * hardware buffer byte for byte as it was.
 */
export const L_CMD_SEQ = 33;
export const L_RING_META = 48;
export const L_SHIM_META = 64;
export const L_SHIM_LOCK = 66;
export const L_ROWS_BASE = 80;
export const SHIM_ENTRIES = 256;
export const SHIM_WORDS = 4;
export const SH_PASID = 1;
export const SH_DATA = 2;
/**
 * A row is one thread's counters (an add per counted event). No guard line: the last
 * counter must stay 13 words or more before the next row (now +49 of 64), so that no real
 * line holds two rows' counters wherever the buffer starts (src/core/cache-line.ts
 * GUARD_WORDS; test/hw_vcpu_slots_share_no_real_line.test.ts).
 */
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
/** Per-VM shim chain (vm-chain.ts): entries and slot words. */
export const VM_SHIM_ENTRIES = 256;
export const VM_SHIM_WORDS = 4;
export const VSH_EVENT = 1;
export const VSH_ID = 2;
export const VSH_SPID = 3;
/** Per-VM statistics (16 words per VM, Atomics.add). */
export const VM_STATS_WORDS = LINE_WORDS;
export const VS_ACCEPTED = 0;
export const VS_EXITS72 = 1;
export const VS_VCMD_ALLOC = 2;
export const VS_VCMD_FREE = 3;
export const VS_VCMD_NO_PASID = 4;
export const VS_VCMD_INVALID = 5;
export const VS_BINDS = 6;
export const VS_BIND_ERRORS = 7;
export const VS_UNBINDS = 8;
export const VS_CRASHES = 9;
export const VS_RETRIES = 10;
export const VS_PEAK_LIVE = 11;

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
  /** Part 2: VMs and what each has (all 0 / empty on a host-only platform). */
  vm: VmShape;
}

/** What the VM regions' layout depends on. */
export interface VmShape {
  vms: number;
  vcpus: number;
  viommus: number;
  /** Guest processes per VM. */
  procs: number;
  /** VMM records of host PASIDs per VM. */
  pasids: number;
  /** VMCS leaves per VM. */
  vmcsLeaves: number;
  /** Every mdev: its VM, PF, WQ and type. */
  mdevs: { vm: number; pf: number; wq: number; type: number }[];
  /** Bonds of the pool reserved for the host (guest bonds follow). */
  hostBonds: number;
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
  vm: VmGeometry[];
  mdevBase: number;
  totalWords: number;
}

/** Bases of one VM region. */
export interface VmGeometry {
  base: number;
  viommu: number[];
  vcpuBase: number;
  procBase: number;
  pasidBase: number;
  workBase: number;
  vmcsDir: number;
  vmcsLeafBase: number;
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
  const v = s.vm;
  const vm: VmGeometry[] = [];
  for (let i = 0; i < v.vms; i++) {
    const base = take(VM_VIOMMU_BASE + VIOMMU_WORDS * v.viommus);
    const viommu = [...Array(v.viommus).keys()].map(
      (j) => base + VM_VIOMMU_BASE + VIOMMU_WORDS * j,
    );
    const vcpuBase = take(VCPU_WORDS * v.vcpus);
    const procBase = take(GPROC_WORDS * v.procs);
    const pasidBase = take(VPASID_WORDS * v.pasids);
    const workBase = take(WORK_WORDS * WORK_ENTRIES);
    const vmcsDir = take(VMCS_DIR_ENTRIES);
    const vmcsLeafBase = take(VMCS_ENTRY_WORDS * VMCS_LEAF_ENTRIES * v.vmcsLeaves);
    vm.push({ base, viommu, vcpuBase, procBase, pasidBase, workBase, vmcsDir, vmcsLeafBase });
  }
  const mdevBase = take(MDEV_WORDS * v.mdevs.length);
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
    vm,
    mdevBase,
    totalWords: at,
  };
}

/** Word index of field `f` of VM `vm`'s region. */
export function vmWord(g: HwGeometry, vm: number, f: number): number {
  return g.vm[vm]!.base + f;
}

/** Word index of vCPU `c` of VM `vm`. */
export function vcpuWord(g: HwGeometry, vm: number, c: number): number {
  return g.vm[vm]!.vcpuBase + VCPU_WORDS * c;
}

/** Word index of guest process `p` of VM `vm`. */
export function gprocWord(g: HwGeometry, vm: number, p: number): number {
  return g.vm[vm]!.procBase + GPROC_WORDS * p;
}

/** Word index of VMM record `r` of VM `vm`. */
export function vpasidWord(g: HwGeometry, vm: number, r: number): number {
  return g.vm[vm]!.pasidBase + VPASID_WORDS * r;
}

/** Word index of mdev `m`. */
export function mdevWord(g: HwGeometry, m: number): number {
  return g.mdevBase + MDEV_WORDS * m;
}

/** Word index of the VMCS entry of guest PASID `gpasid` in leaf `leaf` of VM `vm`. */
export function vmcsEntryWord(g: HwGeometry, vm: number, leaf: number, gpasid: number): number {
  return (
    g.vm[vm]!.vmcsLeafBase +
    (leaf * VMCS_LEAF_ENTRIES + (gpasid & (VMCS_LEAF_ENTRIES - 1))) * VMCS_ENTRY_WORDS
  );
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

/** Word index of VM `vm`'s shim chain (its meta line; slots follow). */
export function vmShimBase(rows: number, entries: number, vm: number): number {
  return (
    shimRingBase(rows, entries) +
    SHIM_WORDS * SHIM_ENTRIES +
    vm * (LINE_WORDS + VM_SHIM_WORDS * VM_SHIM_ENTRIES)
  );
}

/** Word index of VM `vm`'s statistics. */
export function vmStatsWord(rows: number, entries: number, vms: number, vm: number): number {
  return vmShimBase(rows, entries, vms) + VM_STATS_WORDS * vm;
}

/** Total words of a log buffer. */
export function logWords(rows: number, entries: number, vms: number): number {
  return vmStatsWord(rows, entries, vms, vms);
}
