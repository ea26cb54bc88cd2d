/** Every command of the model-based test, one file each. */
import { allocCommand } from './alloc.js';
import { attachDataCommand } from './attach-data.js';
import { attachSpidCommand } from './attach-spid.js';
import { cancelCapacityCommand } from './cancel-capacity.js';
import { detachDataCommand } from './detach-data.js';
import { detachSpidCommand } from './detach-spid.js';
import { findCommand } from './find.js';
import { findBySpidCommand } from './find-by-spid.js';
import { freeCommand } from './free.js';
import { freeAllInSetCommand } from './free-all-in-set.js';
import { getCommand } from './get.js';
import { putCommand } from './put.js';
import { reserveCapacityCommand } from './reserve-capacity.js';
import { setAllocCommand } from './set-alloc.js';
import { setFreeCommand } from './set-free.js';

export const allCommands = [
  setAllocCommand,
  setAllocCommand,
  setFreeCommand,
  allocCommand,
  allocCommand,
  allocCommand,
  freeCommand,
  freeCommand,
  getCommand,
  putCommand,
  findCommand,
  attachDataCommand,
  detachDataCommand,
  attachSpidCommand,
  detachSpidCommand,
  findBySpidCommand,
  freeAllInSetCommand,
  reserveCapacityCommand,
  cancelCapacityCommand,
];
