import { isErrorCode, isJobName, ErrorCode, type ErrorInfo, type JobName } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/** A control job as the gateway recorded it: what was asked and, once it ended, how. */
export interface StoredJob {
  jobId: string;
  nodeId: string;
  name: JobName;
  subject: string | null;
  /** The job's payload as queued (a configuration or preset job carries its document and revision). */
  payload: unknown;
  state: 'queued' | 'completed' | 'failed';
  error: ErrorInfo | null;
  result: unknown;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms after which a job still queued is failed as TIMEOUT (see jobDeadlineMs). */
  deadlineAt: number;
  finishedAt: number | null;
}

/** How a job ended. */
export type JobOutcome = { state: 'completed'; result: unknown } | { state: 'failed'; error: ErrorInfo };

interface Row {
  job_id: string;
  node_id: string;
  name: string;
  subject: string | null;
  payload: string;
  state: StoredJob['state'];
  error_code: string | null;
  error_message: string | null;
  result: string | null;
  created_at: number;
  deadline_at: number;
  finished_at: number | null;
}

/**
 * Control jobs by id, in the database every replica shares: written before a job is queued, and
 * its outcome written once, by whichever replica sees it end first (`finish` is a compare-and-set
 * on state 'queued'), so an outcome never depends on the memory of the replica that queued it.
 */
export class JobRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  insert(job: Pick<StoredJob, 'jobId' | 'nodeId' | 'name' | 'subject' | 'payload' | 'deadlineAt'>, now = Date.now()): void {
    this.db
      .prepare('INSERT INTO jobs (job_id, node_id, name, subject, payload, state, created_at, deadline_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(job.jobId, job.nodeId, job.name, job.subject, JSON.stringify(job.payload), 'queued', now, job.deadlineAt);
  }

  /** Forgets a job that was never queued (BullMQ answered with an existing one, or Redis failed). */
  delete(jobId: string): void {
    this.db.prepare("DELETE FROM jobs WHERE job_id = ? AND state = 'queued'").run(jobId);
  }

  get(jobId: string): StoredJob | null {
    const row = this.db.prepare('SELECT * FROM jobs WHERE job_id = ?').get(jobId) as Row | undefined;
    return row === undefined ? null : toJob(row);
  }

  /**
   * Stores how a job ended. True for the one caller that moved it out of 'queued' (it then applies
   * the outcome); false when it was recorded already, or is not a job this gateway queued.
   */
  finish(jobId: string, outcome: JobOutcome, now = Date.now()): boolean {
    const error = outcome.state === 'failed' ? outcome.error : null;
    const result = outcome.state === 'completed' ? JSON.stringify(outcome.result ?? null) : null;
    return (
      this.db
        .prepare("UPDATE jobs SET state = ?, error_code = ?, error_message = ?, result = ?, finished_at = ? WHERE job_id = ? AND state = 'queued'")
        .run(outcome.state, error?.code ?? null, error?.message ?? null, result, now, jobId).changes === 1
    );
  }

  /** Jobs of a node still waiting for an outcome, oldest first. */
  queued(nodeId: string): StoredJob[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE node_id = ? AND state = 'queued' ORDER BY created_at").all(nodeId) as Row[]).map(toJob);
  }

  /** Drops finished jobs older than `olderThanMs`; returns how many. */
  prune(olderThanMs: number, now = Date.now()): number {
    return this.db.prepare("DELETE FROM jobs WHERE state != 'queued' AND finished_at < ?").run(now - olderThanMs).changes;
  }
}

function toJob(row: Row): StoredJob {
  const code = row.error_code;
  return {
    jobId: row.job_id,
    nodeId: row.node_id,
    // Written only by `insert` with a JobName; anything else would be a corrupt row.
    name: isJobName(row.name) ? row.name : (() => { throw new Error(`job ${row.job_id}: unknown name ${row.name}`); })(),
    subject: row.subject,
    payload: JSON.parse(row.payload) as unknown,
    state: row.state,
    error: code === null ? null : { code: isErrorCode(code) ? code : ErrorCode.JOB_FAILED, message: row.error_message ?? '' },
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
    createdAt: row.created_at,
    deadlineAt: row.deadline_at,
    finishedAt: row.finished_at,
  };
}
