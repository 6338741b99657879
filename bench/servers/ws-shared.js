'use strict';
// What the WebSocket bench servers (http-native-ws.js, ws-node.js) and the bench's clients
// (bench/ws-clients.js, bench/ws.js) share, so both servers are asked the same thing and send
// the same bytes: the paths, the topic, the broadcast message and the echo messages.
//   /echo                    WebSocket: every message is sent back as it came (text or binary)
//   /broadcast               WebSocket: subscribes to TOPIC in open; `/broadcast?subscribe=0`
//                            does not (the publisher). A message equal to PUBLISH_COMMAND
//                            publishes BROADCAST_MESSAGE to TOPIC
//   POST /publish            publishes BROADCAST_MESSAGE to TOPIC, answers 204
//   GET  /subscribers        {"subscribers": <count on TOPIC>}, so the bench knows when every
//                            subscriber's subscription has landed before it publishes

const ECHO_PATH = '/echo';
const BROADCAST_PATH = '/broadcast';
const PUBLISHER_PATH = `${BROADCAST_PATH}?subscribe=0`;
const TOPIC = 'all';
const PUBLISH_COMMAND = Buffer.from('pub');

// Pads `text` with spaces to exactly `bytes` bytes (ASCII), so a message's size is the size named.
function padded(text, bytes) {
  return Buffer.from(text.padEnd(bytes, ' '));
}

// A small JSON text message, as a chat line or a ticker update is: 32 bytes.
const BROADCAST_MESSAGE = padded('{"type":"tick","price":101.25}', 32);

// The echo rows' messages: a 32-byte text message (a chat line) and 16 KiB of binary (a state
// snapshot or a file chunk). The binary one is deterministic bytes, not a run of one value.
const ECHO_MESSAGES = {
  small: { payload: padded('{"type":"chat","text":"hello"}', 32), binary: false },
  large: { payload: patterned(16 * 1024), binary: true },
};

function patterned(bytes) {
  const b = Buffer.alloc(bytes);
  let x = 0x2545f491;
  for (let i = 0; i < bytes; i++) {
    // xorshift32: fixed seed, every run the same bytes
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

// `/broadcast?subscribe=0` (the publisher) must not subscribe; anything else does.
function wantsSubscription(query) {
  return query !== '0';
}

module.exports = {
  ECHO_PATH,
  BROADCAST_PATH,
  PUBLISHER_PATH,
  TOPIC,
  PUBLISH_COMMAND,
  BROADCAST_MESSAGE,
  ECHO_MESSAGES,
  wantsSubscription,
};
