// @ts-check
/**
 * The per-value secretbox work of an envelope, done in place in one records section: what the SDK's
 * crypto workers run (src/client/crypto-worker.js), and the main thread for small batches. Plain
 * JavaScript importing only tweetnacl, so that a worker thread loads it without a TypeScript loader.
 *
 * A value slot is `nonce (24) | tag (16) | ciphertext`, the layout of docs/envelope.md. tweetnacl's
 * crypto_secretbox maps `32 zero bytes || plaintext` to `16 zero bytes || tag || ciphertext` of the
 * same length, reading and writing byte by byte, so it can run on one region of the slot starting
 * 8 bytes in: the 16 zero bytes then land on bytes 8..24, where the nonce goes back afterwards.
 * crypto_secretbox_open reads the tag at 16..32 of its box and ignores 0..16, the same way round.
 */
import nacl from 'tweetnacl';

/**
 * @typedef {object} NaclLowLevel The parts of tweetnacl's low-level API used here (its typings do not declare them).
 * @property {(box: Uint8Array, message: Uint8Array, length: number, nonce: Uint8Array, key: Uint8Array) => number} crypto_secretbox
 * @property {(message: Uint8Array, box: Uint8Array, length: number, nonce: Uint8Array, key: Uint8Array) => number} crypto_secretbox_open
 */
const lowlevel = /** @type {{ lowlevel: NaclLowLevel }} */ (/** @type {unknown} */ (nacl)).lowlevel;

const NONCE_BYTES = 24;
/** Where the box starts in a slot, and where the plaintext starts in the message that fills it. */
const BOX_AT = 8;
const MESSAGE_ZERO_BYTES = 32;
/** nonce (24) + tag (16): a slot's bytes before its ciphertext. */
export const VALUE_ROOM = NONCE_BYTES + 16;

/**
 * Seals every value slot of `bytes` in place with `key`. Each slot, described in `slots` as
 * (start, length) pairs, holds its nonce at 0..24 and its plaintext from VALUE_ROOM on; afterwards it
 * holds `nonce || secretbox(plaintext)`, byte for byte what `nacl.secretbox` gives.
 * @param {Uint8Array} bytes
 * @param {Int32Array} slots
 * @param {Uint8Array} key the 32-byte content key
 */
export function sealValuesInPlace(bytes, slots, key) {
  const nonce = new Uint8Array(NONCE_BYTES);
  for (let index = 0; index < slots.length; index += 2) {
    const start = /** @type {number} */ (slots[index]);
    const length = /** @type {number} */ (slots[index + 1]);
    checkSlot(bytes, start, length);
    nonce.set(bytes.subarray(start, start + NONCE_BYTES));
    bytes.fill(0, start + BOX_AT, start + BOX_AT + MESSAGE_ZERO_BYTES);
    const box = bytes.subarray(start + BOX_AT, start + length);
    lowlevel.crypto_secretbox(box, box, box.length, nonce, key);
    bytes.set(nonce, start);
  }
}

/**
 * Opens every value slot of `bytes` in place with `key`: slot (start, length) then holds the
 * plaintext at start + VALUE_ROOM .. start + length. Stops at the first value that does not
 * authenticate, which is left as it was, and returns its index among the slots; -1 when all open.
 * @param {Uint8Array} bytes
 * @param {Int32Array} slots
 * @param {Uint8Array} key the 32-byte content key
 * @returns {number}
 */
export function openValuesInPlace(bytes, slots, key) {
  const nonce = new Uint8Array(NONCE_BYTES);
  for (let index = 0; index < slots.length; index += 2) {
    const start = /** @type {number} */ (slots[index]);
    const length = /** @type {number} */ (slots[index + 1]);
    checkSlot(bytes, start, length);
    nonce.set(bytes.subarray(start, start + NONCE_BYTES));
    const box = bytes.subarray(start + BOX_AT, start + length);
    if (lowlevel.crypto_secretbox_open(box, box, box.length, nonce, key) !== 0) return index / 2;
  }
  return -1;
}

/**
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} length
 */
function checkSlot(bytes, start, length) {
  if (!(start >= 0 && length >= VALUE_ROOM && start + length <= bytes.length)) {
    throw new RangeError(`value slot ${start}+${length} is not a sealed value inside ${bytes.length} bytes`);
  }
}
