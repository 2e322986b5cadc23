import { SealbusError } from '../../errors/index.js';
import { errorCode, type LogFileSystem } from './fs-seam.js';

/** Locks held by this process: a second store on the same directory in one process is refused too. */
const heldHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

/**
 * Takes the data directory's lock file (it holds the owner's pid). A lock left by a dead process,
 * e.g. after kill -9, is taken over; a live owner makes open fail with SEALBUS_ERR_STORE_LOCKED.
 * Returns the release function.
 */
export async function acquireLock(fileSystem: LogFileSystem, path: string, dir: string): Promise<() => Promise<void>> {
  for (let attempt = 0; ; attempt++) {
    if (heldHere.has(path)) throw new SealbusError('SEALBUS_ERR_STORE_LOCKED', { dir, pid: process.pid });
    try {
      const fd = await fileSystem.open(path, 'wx+');
      try {
        await fileSystem.writev(fd, [Buffer.from(`${process.pid}\n`)], 0);
      } finally {
        await fileSystem.close(fd);
      }
      heldHere.add(path);
      return async () => {
        heldHere.delete(path);
        await fileSystem.unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if (errorCode(err) !== 'EEXIST' || attempt > 2) throw err;
    }
    const owner = Number.parseInt((await fileSystem.readFile(path).catch(() => Buffer.from(''))).toString('utf8'), 10);
    // Our own pid without an entry in heldHere is a previous process whose pid was reused.
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new SealbusError('SEALBUS_ERR_STORE_LOCKED', { dir, pid: owner });
    }
    await fileSystem.unlink(path).catch(() => undefined);
  }
}
