// The baseline API: a bare Express 5 app that only validates JSON and calls queue.add.
// node bench/baseline-api.mjs  (PORT, REDIS_URL, QUEUE_PREFIX)
import { Queue } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
await new Promise((resolve) => redis.once('ready', resolve));
const queue = new Queue('intent-jobs', { connection: redis, prefix: process.env.QUEUE_PREFIX ?? 'baseline' });
const app = express();
app.post('/v1/intents', express.json({ limit: '16kb' }), async (req, res) => {
  const b = req.body;
  if (!b || typeof b.type !== 'string' || typeof b.call_uuid !== 'string')
    return res.status(422).json({ error: 'invalid' });
  const job = await queue.add('intent', b, { removeOnComplete: true });
  res.status(202).json({ id: job.id });
});
app.get('/livez', (_req, res) => res.json({ ok: true }));
const server = app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
