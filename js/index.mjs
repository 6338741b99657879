// ESM entry point: the same objects as the CommonJS one, so both kinds of import share one module.
import httpNative from './index.js';

export const { createApp, WS_SENT, WS_BACKPRESSURE, WS_DROPPED } = httpNative;
export const { cors, rateLimit, session, MemorySessionStore, RedisSessionStore, RedisRateLimitStore, serve } = httpNative;
export default httpNative;
