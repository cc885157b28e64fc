import type { Logger } from 'pino';
import type { AppDeps } from '../context/deps';
import type { BackgroundService } from '../runtime/background-service';
import { outsideRequest } from '../observability/context';

export interface RetentionJobOptions {
  /** How often the job runs. */
  intervalMs: number;
  /** Calls handled per statement; each batch is claimed with SKIP LOCKED. */
  batchSize: number;
  /** Batches per kind and run, so one run stays short. */
  maxBatches: number;
  /**
   * Age after which the voice agent's stored answers are deleted (minutes, at least 60). They
   * only serve Retell's retries of the same request, which come within minutes.
   */
  voiceAnswerMaxAgeMinutes: number;
}

export const DEFAULT_RETENTION_OPTIONS: RetentionJobOptions = {
  intervalMs: 3600_000,
  batchSize: 500,
  maxBatches: 100,
  voiceAnswerMaxAgeMinutes: 24 * 60,
};

export interface RetentionResult {
  transcripts: number;
  recordings: number;
  voiceAnswers: number;
}

/**
 * Removes call transcripts (with summaries and transcript objects) and recording URLs once they
 * are older than their company's retention period (companies.transcript_retention_days and
 * recording_retention_days, 90 days unless changed), and deletes the voice agent's stored answers
 * (voice_idempotency, which can repeat a caller's name, number and appointment) once they are a
 * day old. Runs in the server process; several servers may run it at once, since each batch claims
 * its rows with FOR UPDATE SKIP LOCKED. The rows removed are counted in
 * app_retention_removed_total. The purge functions are platform functions, called through the
 * platform handle.
 */
export class RetentionJob implements BackgroundService {
  readonly name = 'retention-job';
  readonly options: RetentionJobOptions;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private running = false;
  private current?: Promise<unknown>;

  constructor(
    private readonly deps: AppDeps,
    options: Partial<RetentionJobOptions> = {},
  ) {
    this.options = { ...DEFAULT_RETENTION_OPTIONS, ...options };
    this.log = deps.logger.child({ component: 'retention-job' });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(Math.min(this.options.intervalMs, 60_000));
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    // Outside any request's context, even when started while one is served.
    this.timer = outsideRequest(() =>
      setTimeout(() => {
        this.timer = undefined;
        this.current = this.runOnce()
          .catch((err) => {
            this.deps.metrics.retentionRuns.inc({ outcome: 'error' });
            this.log.warn({ err }, 'retention run failed; retrying at the next interval');
          })
          .finally(() => this.schedule(this.options.intervalMs));
      }, delayMs),
    );
    this.timer.unref?.();
  }

  /** One run: removes everything due, in batches. */
  async runOnce(): Promise<RetentionResult> {
    const transcripts = await this.purge('transcript', 'retention_purge_transcripts');
    const recordings = await this.purge('recording', 'retention_purge_recordings');
    const voiceAnswers = await this.purge('voice_answer', 'retention_purge_voice_answers', [
      this.options.voiceAnswerMaxAgeMinutes,
    ]);
    this.deps.metrics.retentionRuns.inc({ outcome: 'ok' });
    if (transcripts + recordings + voiceAnswers > 0) {
      this.log.info({ transcripts, recordings, voiceAnswers }, 'retention removed call data');
    }
    return { transcripts, recordings, voiceAnswers };
  }

  private async purge(
    kind: 'transcript' | 'recording' | 'voice_answer',
    fn: string,
    extra: number[] = [],
  ): Promise<number> {
    let total = 0;
    const params = extra.map(() => ', ?').join('');
    for (let i = 0; i < this.options.maxBatches; i++) {
      const { rows } = (await this.deps.db.platform.raw(`select * from ${fn}(?${params})`, [
        this.options.batchSize,
        ...extra,
      ])) as { rows: { company_id: string; removed: number }[] };
      const removed = rows.reduce((sum, r) => sum + r.removed, 0);
      total += removed;
      if (removed > 0) this.deps.metrics.retentionRemoved.inc({ kind }, removed);
      if (removed < this.options.batchSize) break;
    }
    return total;
  }
}
