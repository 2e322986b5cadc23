/** The WebSocket protocol v1: frame types, codecs and constants shared by the server and the SDK. */
export {
  CLOSE_CODES,
  DEFAULT_FRAME_LIMITS,
  DEFAULT_SESSION_LIMITS,
  FRAME_HEADER_BYTES,
  FRAME_TYPE_CODES,
  PROTOCOL_VERSION,
  START_KIND_CODES,
  SUBPROTOCOL,
  WEBSOCKET_PATH,
  type CloseCode,
  type FrameLimits,
  type FrameTypeName,
} from './constants.js';
export type * from './frame-types.js';
export { encodeFrame, encodeFrameParts } from './encode.js';
export { decodeBrokerFrame, decodeClientFrame, decodeFrame, peekFrameHeader, type FrameHeader } from './decode.js';
export { closeCodeForError, errorFromClose } from './close-codes.js';
