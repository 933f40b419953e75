import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Job, Queue } from 'bullmq';
import { Router, type RequestHandler } from 'express';
import type { IntentRecord } from '../domain/intent.js';
import type { IntentJobs } from '../infra/intent-queue.js';
import { INTENT_JOB } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import { caller, hasRole } from './auth.js';
import { AppError } from './errors.js';
import { requestLog } from './request-observer.js';
import { retryIntent } from './retry-intent.js';

export const ADMIN_PATH = '/admin/queues';

/** What a job card shows of its intent, read from the intent's record (the job itself holds only ids). */
interface IntentSummary {
  type: string;
  call_uuid: string | null;
  status: string;
  error_code: string | null;
  attempts: number;
}

function summary(r: IntentRecord): IntentSummary {
  const call = 'call_uuid' in r.request ? (r.request.call_uuid ?? null) : null;
  return {
    type: r.request.type,
    call_uuid: r.member?.call_uuid ?? call,
    status: r.status,
    error_code: r.error?.code ?? null,
    attempts: r.attempts,
  };
}

/**
 * Bull Board's adapter for the intent queue, with each intent job's card showing the intent
 * (type, status, error code) beside the ids. The summary is added to the copy of the job the
 * board renders; nothing is written back.
 */
class IntentQueueAdapter extends BullMQAdapter {
  constructor(
    queue: Queue,
    private readonly store: IntentStore,
    readOnlyMode: boolean,
  ) {
    super(queue, {
      readOnlyMode,
      description: 'One job per intent (and one per max-wait timer); the intent record is the source of truth.',
    });
    this.setFormatter('name', (job: { name?: string; data?: { intent?: IntentSummary } }) => {
      const i = job.data?.intent;
      return i ? `${i.type} · ${i.status}${i.error_code ? ` · ${i.error_code}` : ''}` : (job.name ?? '');
    });
  }

  private async withIntents(jobs: Job[]): Promise<Job[]> {
    const ids = jobs.filter(
      (j) => j?.name === INTENT_JOB && typeof (j.data as { intentId?: unknown }).intentId === 'string',
    );
    const records = await this.store.getMany(ids.map((j) => (j.data as { intentId: string }).intentId));
    ids.forEach((job, i) => {
      const r = records[i];
      job.data = { ...(job.data as object), intent: r ? summary(r) : { status: 'expired (no record)' } };
    });
    return jobs;
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>) {
    return this.withIntents(await super.getJobs(...args));
  }

  override async getJob(id: string) {
    const job = await super.getJob(id);
    return job ? (await this.withIntents([job]))[0] : job;
  }
}

export interface AdminDeps {
  store: IntentStore;
  jobs: IntentJobs;
  /** The other job queues the board shows (completion callbacks). */
  others: Queue[];
}

function board(deps: AdminDeps, readOnlyMode: boolean): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(ADMIN_PATH);
  const queues = [
    new IntentQueueAdapter(deps.jobs, deps.store, readOnlyMode),
    ...deps.others.map((q) => new BullMQAdapter(q, { readOnlyMode })),
  ];
  createBullBoard({
    queues,
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: readOnlyMode ? 'holdq (read only)' : 'holdq' } },
  });
  return adapter.getRouter() as Router;
}

const refuse =
  (what: string): RequestHandler =>
  (_req, _res, next) =>
    next(
      new AppError(
        'forbidden',
        `${what} from the admin board is refused: post an intent to /v1/intents, where it is validated`,
        [],
      ),
    );

/**
 * Bull Board over holdq's job queues, mounted under ADMIN_PATH behind authentication (README, "The intent API": keys and roles).
 * An API key sees the board read-only; only an admin key may act on it. Nobody may add a job or
 * edit a job's data (that would bypass the intent API's validation), and a retry of an intent job
 * re-runs the intent exactly as POST /v1/intents/{id}/retry does, record and job together.
 */
export function createAdminRouter(deps: AdminDeps): Router {
  const viewer = board(deps, true);
  const admin = board(deps, false);
  const router = Router();
  router.use((_req, res, next) => {
    if (hasRole(caller(res), 'write')) return next();
    next(
      new AppError('forbidden', 'the admin board is for operators: use an API key to look, an admin key to act', []),
    );
  });
  router.post('/api/queues/:queueName/add', refuse('adding a job'));
  router.patch('/api/queues/:queueName/:jobId/update-data', refuse('editing a job'));
  router.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || hasRole(caller(res), 'admin')) return next();
    next(
      new AppError(
        'forbidden',
        'this key may look at the admin board; acting on it needs an admin key (ADMIN_KEYS)',
        [],
      ),
    );
  });

  const retry = async (
    jobId: string,
    log: ReturnType<typeof requestLog>,
    by: string,
  ): Promise<'retried' | 'passed'> => {
    const job = await deps.jobs.getJob(jobId);
    if (job && job.name !== INTENT_JOB) return 'passed'; // a max-wait timer: BullMQ's own retry is right for it
    // An intent job's id is its intent's id; a job already gone (completed) still names its intent.
    const record = await deps.store.get(job ? (job.data as { intentId: string }).intentId : jobId);
    if (!record && !job) return 'passed';
    if (!record)
      throw new AppError('conflict', `intent ${jobId} is past its retention; nothing to re-run`, [
        { field: 'jobId', message: 'no intent' },
      ]);
    await retryIntent(deps, record);
    log.info({ intentId: record.id, by, via: 'admin board' }, 'failed intent re-queued');
    return 'retried';
  };
  const intentQueue = deps.jobs.name;
  router.put('/api/queues/:queueName/:jobId/retry', async (req, res, next) => {
    if (req.params.queueName !== intentQueue) return next();
    if ((await retry(String(req.params.jobId), requestLog(res), caller(res).client)) === 'passed') return next();
    res.status(204).end();
  });
  router.put('/api/queues/:queueName/retry/:queueStatus', async (req, res, next) => {
    if (req.params.queueName !== intentQueue || req.params.queueStatus !== 'failed') return next();
    // Intent jobs go through the intent retry one by one; the rest (max-wait timers) through BullMQ's.
    const failed = await deps.jobs.getJobs(['failed']);
    let retried = 0;
    const refused: string[] = [];
    for (const job of failed) {
      if (!job?.id) continue;
      try {
        if ((await retry(job.id, requestLog(res), caller(res).client)) === 'passed') await job.retry('failed');
        retried++;
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        refused.push(`${job.id}: ${err.detail}`);
      }
    }
    res.status(200).json({ retried, refused });
  });
  // Admins get the board that acts; everyone else who got this far the read-only one.
  const forAdmins = Router();
  forAdmins.use((_req, res, next) => (hasRole(caller(res), 'admin') ? next() : next('router')));
  forAdmins.use(admin);
  router.use(forAdmins, viewer);
  return router;
}
