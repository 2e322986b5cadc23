/**
 * Little-endian reads of the hot record walks, for offsets the caller has already bounds-checked.
 * Node 20's Buffer#readUInt32LE and its kin validate their offset through a wrapped function on
 * every call (about 5 ns each); these are plain byte loads that the JIT inlines. They do not check
 * bounds: a read past the end gives a wrong number or NaN, so every caller checks first.
 */

export function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) + bytes[at + 3]! * 0x1000000;
}

export function i32le(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
}

export function u16le(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}
