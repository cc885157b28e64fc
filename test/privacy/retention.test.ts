import { RetentionJob } from '../../src/privacy/retention-job';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

/**
 * The retention job removes exactly the transcripts and recordings that are due, per company, and
 * the voice agent's stored answers once they are a day old.
 */
let s: TestServer;
let w: World;
let admin: string;

const RETENTION = `mutation($input: RetentionInput!) {
  updateRetention(input: $input) { transcriptRetentionDays recordingRetentionDays }
}`;

beforeAll(async () => {
  s = await startTestServer({ retentionIntervalMs: 0 });
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
});
afterAll(async () => s.close());

const daysAgo = (n: number) => new Date(Date.now() - n * 86400_000);

async function seedCall(companyId: string, id: string, ageDays: number) {
  await s.t.superuser('calls').insert({
    company_id: companyId,
    retell_call_id: id,
    status: 'ended',
    ended_at: daysAgo(ageDays),
    transcript: `transcript of ${id}`,
    summary: `summary of ${id}`,
    recording_url: `https://recordings.example.invalid/${id}.wav`,
    metadata: { transcript_object: [{ content: id }], recording_url: 'x', keep: true },
  });
}

test('admins set the periods; bad values name their field; staff may not', async () => {
  const ok = await s.gql(
    RETENTION,
    { input: { transcriptRetentionDays: 30, recordingRetentionDays: 10 } },
    { token: admin },
  );
  expect(ok.errors).toBeUndefined();
  expect(ok.data?.updateRetention).toEqual({
    transcriptRetentionDays: 30,
    recordingRetentionDays: 10,
  });
  for (const value of [0, -1, 4000]) {
    const bad = await s.gql(
      RETENTION,
      { input: { recordingRetentionDays: value } },
      { token: admin },
    );
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.recordingRetentionDays',
    });
  }
  const staff = await w.login(w.a.users.staff.email);
  const refused = await s.gql(
    RETENTION,
    { input: { recordingRetentionDays: 1 } },
    { token: staff },
  );
  expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const read = await s.gql(
    '{ companyLifecycle { transcriptRetentionDays recordingRetentionDays suspendedAt } }',
    {},
    { token: staff },
  );
  expect(read.data?.companyLifecycle).toEqual({
    transcriptRetentionDays: 30,
    recordingRetentionDays: 10,
    suspendedAt: null,
  });
  const b = await s.t.superuser('companies').where({ id: w.b.id }).first();
  expect([b.transcript_retention_days, b.recording_retention_days]).toEqual([90, 90]);
});

test('removes exactly what is due, skips locked rows, and counts what it removed', async () => {
  // A keeps transcripts 30 days and recordings 10; B keeps both the default 90.
  await seedCall(w.a.id, 'a-31', 31); // both due
  await seedCall(w.a.id, 'a-20', 20); // recording due
  await seedCall(w.a.id, 'a-5', 5); // nothing due
  await seedCall(w.a.id, 'a-40-locked', 40); // due, but locked during the first run
  await seedCall(w.b.id, 'b-91', 91); // both due
  await seedCall(w.b.id, 'b-60', 60); // nothing due
  const job = new RetentionJob(s.server.deps, { batchSize: 2 });

  // Another transaction holds one due row: the job skips it instead of waiting.
  const holder = await s.t.db.withOwner((owner) => owner.transaction());
  await holder('calls').where({ retell_call_id: 'a-40-locked' }).forUpdate().select('id');
  let first;
  try {
    first = await job.runOnce();
  } finally {
    await holder.rollback();
  }
  expect(first).toEqual({ transcripts: 2, recordings: 3, voiceAnswers: 0 });

  const state = async () =>
    Object.fromEntries(
      (
        await s.t
          .superuser('calls')
          .whereIn('retell_call_id', ['a-31', 'a-20', 'a-5', 'a-40-locked', 'b-91', 'b-60'])
          .select('retell_call_id', 'transcript', 'summary', 'recording_url', 'metadata')
      ).map((r) => [
        r.retell_call_id,
        [
          r.transcript !== null,
          r.summary !== null,
          r.recording_url !== null,
          Object.keys(r.metadata).sort().join(','),
        ],
      ]),
    );
  expect(await state()).toEqual({
    'a-31': [false, false, false, 'keep'],
    'a-20': [true, true, false, 'keep,transcript_object'],
    'a-5': [true, true, true, 'keep,recording_url,transcript_object'],
    'a-40-locked': [true, true, true, 'keep,recording_url,transcript_object'],
    'b-91': [false, false, false, 'keep'],
    'b-60': [true, true, true, 'keep,recording_url,transcript_object'],
  });

  const second = await job.runOnce();
  expect(second).toEqual({ transcripts: 1, recordings: 1, voiceAnswers: 0 });
  expect((await state())['a-40-locked']).toEqual([false, false, false, 'keep']);
  expect(await job.runOnce()).toEqual({ transcripts: 0, recordings: 0, voiceAnswers: 0 });

  const metrics = await s.server.deps.metrics.registry.getSingleMetricAsString(
    'app_retention_removed_total',
  );
  expect(metrics).toContain('app_retention_removed_total{kind="transcript"} 3');
  expect(metrics).toContain('app_retention_removed_total{kind="recording"} 4');
});

/** A stored answer of the voice agent on a fresh call, created `ageMinutes` ago. */
async function seedAnswer(companyId: string, key: string, ageMinutes: number) {
  const [call] = await s.t
    .superuser('calls')
    .insert({ company_id: companyId, retell_call_id: `voice-${key}`, status: 'ended' })
    .returning('id');
  await s.t.superuser('voice_idempotency').insert({
    company_id: companyId,
    call_id: call.id,
    function_name: 'book_appointment',
    args_hash: key.padEnd(64, '0'),
    response: { ok: true, outcome: 'ok', message: `Booked for caller ${key}` },
    created_at: new Date(Date.now() - ageMinutes * 60_000),
  });
  return call.id as string;
}

test('stored voice answers are deleted after a day, skipping locked ones; the calls stay', async () => {
  const calls = [
    await seedAnswer(w.a.id, 'a1', 2 * 24 * 60), // due
    await seedAnswer(w.a.id, 'a2', 24 * 60 + 5), // due
    await seedAnswer(w.a.id, 'a3', 23 * 60), // kept: younger than a day
    await seedAnswer(w.a.id, 'a4', 5), // kept: Retell may still retry
    await seedAnswer(w.a.id, 'a5', 3 * 24 * 60), // due, but locked during the first run
    await seedAnswer(w.b.id, 'b1', 30 * 24 * 60), // due
  ];
  const job = new RetentionJob(s.server.deps, { batchSize: 2 });
  const left = async () =>
    (await s.t.superuser('voice_idempotency').whereIn('call_id', calls).pluck('args_hash'))
      .map((h: string) => h.slice(0, 2))
      .sort();

  const holder = await s.t.db.withOwner((owner) => owner.transaction());
  await holder('voice_idempotency')
    .where({ args_hash: 'a5'.padEnd(64, '0') })
    .forUpdate()
    .select('id');
  let first;
  try {
    first = await job.runOnce();
  } finally {
    await holder.rollback();
  }
  expect(first).toEqual({ transcripts: 0, recordings: 0, voiceAnswers: 3 });
  expect(await left()).toEqual(['a3', 'a4', 'a5']);
  expect(await job.runOnce()).toEqual({ transcripts: 0, recordings: 0, voiceAnswers: 1 });
  expect(await left()).toEqual(['a3', 'a4']);
  expect(await s.t.superuser('calls').whereIn('id', calls).count({ n: '*' })).toEqual([{ n: '6' }]);

  // The age has a floor of an hour, whatever the job is given: a retry may still come.
  const eager = new RetentionJob(s.server.deps, { voiceAnswerMaxAgeMinutes: 0 });
  expect((await eager.runOnce()).voiceAnswers).toBe(1);
  expect(await left()).toEqual(['a4']);

  const metrics = await s.server.deps.metrics.registry.getSingleMetricAsString(
    'app_retention_removed_total',
  );
  expect(metrics).toContain('app_retention_removed_total{kind="voice_answer"} 5');
});

test('only the platform caller may run the purge function', async () => {
  await expect(
    s.t.db.knex.raw('select * from retention_purge_voice_answers(10, 60)'),
  ).rejects.toMatchObject({ code: '42501' });
});
