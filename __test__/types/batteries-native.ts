// The typed sample's part for cors() and rateLimit() (types.test.js type-checks the directory).
import { createApp, cors, rateLimit } from 'http-native';
import type { CorsOptions, RateLimitStore } from 'http-native';

const app = createApp();
const corsOptions: CorsOptions = { origin: ['https://app.example', /\.example$/], credentials: true, maxAge: 600 };
app.use(cors(corsOptions));
app.use('/fn', cors((req, cb) => cb(null, { origin: req.headers['x-tenant'] === 'a' })));
app.use(cors({ origin: (origin, cb) => cb(null, origin === 'https://app.example') }));

const store: RateLimitStore = {
  async increment() {
    return { count: 1, resetMs: 1000 };
  },
};
const limiter = rateLimit({ windowMs: 60_000, limit: 100, message: 'slow down' });
app.use(limiter, rateLimit({ store, key: (req) => req.ip, skip: (req) => req.path === '/health' }));
limiter.resetKey('127.0.0.1');
app.get('/', (req, res) => res.json({ left: req.rateLimit?.remaining ?? null }));

// @ts-expect-error: statusCode is a number
rateLimit({ statusCode: '429' });
// @ts-expect-error: an origin is not a number
cors({ origin: 1 });
