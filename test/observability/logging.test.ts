import fc from 'fast-check';
import { requestStorage, traceContextFrom } from '../../src/observability/context';
import { REDACT_PATHS } from '../../src/observability/logger';
import { captureLog } from './helpers';

describe('redaction', () => {
  test('secrets, tokens, passwords, signatures and cookies never reach the log', () => {
    const log = captureLog();
    log.logger.info(
      {
        password: 'S-password-top',
        token: 'S-token-top',
        accessToken: 'S-access',
        refreshToken: 'S-refresh',
        user: { email: 'ann@example.com', password: 'S-password-nested', passwordHash: 'S-hash' },
        req: {
          headers: {
            authorization: 'Bearer S-bearer-req',
            cookie: 'sid=S-cookie',
            'x-retell-signature': 'S-retell-sig',
            'x-cal-signature-256': 'S-cal-sig',
            'x-api-key': 'S-api-key-header',
            'content-type': 'application/json',
          },
        },
        headers: { authorization: 'Bearer S-bearer-top', 'x-retell-signature': 'S-sig-top' },
        res: { headers: { 'set-cookie': 'sid=S-set-cookie' } },
        variables: {
          input: { password: 'S-var-password', newPassword: 'S-var-new', name: 'Visible Name' },
          data: { password: 'S-var-data-password' },
        },
        graphql: { variables: { input: { token: 'S-graphql-token' } } },
        provider: { clientSecret: 'S-client-secret', apiKey: 'S-api-key', signature: 'S-signature' },
        webhook: { secret: 'S-webhook-secret' },
      },
      'something happened',
    );
    const [raw] = log.raw;
    expect(raw).not.toMatch(/S-[a-z-]+/);
    expect(raw).toContain('ann@example.com');
    expect(raw).toContain('application/json');
    expect(raw).toContain('Visible Name');
    expect(log.lines[0]).toMatchObject({
      password: '[redacted]',
      user: { password: '[redacted]', passwordHash: '[redacted]' },
      req: { headers: { authorization: '[redacted]', 'x-retell-signature': '[redacted]' } },
    });
  });

  test('property: a secret under any redacted key, top level or one down, is never written', () => {
    const keys = REDACT_PATHS.filter((p) => /^[A-Za-z_]+$/.test(p));
    expect(keys.length).toBeGreaterThan(10);
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.constantFrom('', 'input', 'body', 'user'),
        fc.stringMatching(/^[A-Za-z0-9]{12,40}$/),
        (key, parent, secret) => {
          const log = captureLog();
          const value = `SECRET${secret}`;
          log.logger.info(parent ? { [parent]: { [key]: value } } : { [key]: value }, 'x');
          return !log.raw.join('\n').includes(value);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('log lines', () => {
  test('are JSON with a level name, an ISO time and the service name', () => {
    const log = captureLog('info');
    log.logger.warn({ count: 3 }, 'hello');
    log.logger.debug('not written at info');
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({ level: 'warn', msg: 'hello', count: 3, service: 'tenant-voice-graphql' });
    expect(new Date(log.lines[0].time as string).toISOString()).toBe(log.lines[0].time);
  });

  test('written while a request is served carry its request id and trace id', async () => {
    const log = captureLog();
    const trace = traceContextFrom(undefined);
    const observation = { requestId: 'req-inside-1', trace, statements: 0, dbSeconds: 0, annotations: {} };
    await requestStorage.run(observation, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.logger.info('deep inside');
      log.logger.child({ component: 'worker' }).info({ requestId: 'explicit-wins' }, 'explicit');
    });
    log.logger.info('outside');
    expect(log.lines[0]).toMatchObject({ requestId: 'req-inside-1', traceId: trace.traceId });
    expect(log.lines[1]).toMatchObject({ requestId: 'explicit-wins', traceId: trace.traceId });
    // The field appears once: the line's own value replaces the request's, no duplicate keys.
    expect(log.raw[1].match(/"requestId"/g)).toHaveLength(1);
    expect(log.lines[2]).not.toHaveProperty('requestId');
    expect(log.lines[2]).not.toHaveProperty('traceId');
  });
});
