import { createCallLimiter } from '../../src/voice/limits';

/** With Redis unreachable the limits still hold, counted in the process (no failed calls). */
test('an unreachable Redis falls back to in-process counting at the same limits', async () => {
  const limiter = createCallLimiter(
    { perCall: 50, perMinute: 20, perFunction: 3 },
    { redisUrl: 'redis://127.0.0.1:1', keyPrefix: `fallback-${process.pid}` },
  );
  try {
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push(await limiter.take('call-x', 'list_services'));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false]);
  } finally {
    await limiter.close();
  }
}, 20_000);
