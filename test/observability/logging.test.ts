import fc from 'fast-check';
import { requestStorage, traceContextFrom } from '../../src/observability/context';
import { REDACT_PATHS, SECRET_KEYS } from '../../src/observability/logger';
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
        provider: {
          clientSecret: 'S-client-secret',
          apiKey: 'S-api-key',
          signature: 'S-signature',
        },
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

  test('property: a secret under any secret key, at any depth and in any case, is never written', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SECRET_KEYS),
        fc.array(fc.constantFrom('input', 'body', 'user', 'headers', 'variables', 'items'), {
          maxLength: 5,
        }),
        fc.boolean(),
        fc.boolean(),
        fc.stringMatching(/^[A-Za-z0-9]{12,40}$/),
        (key, parents, upperCase, inArray, secret) => {
          const log = captureLog();
          const value = `SECRET${secret}`;
          let object: unknown = { [upperCase ? key.toUpperCase() : key]: value, keep: 'visible' };
          if (inArray) object = [object];
          for (const parent of [...parents].reverse()) object = { [parent]: object };
          const given = JSON.stringify(object);
          log.logger.info(parents.length || inArray ? { data: object } : (object as object), 'x');
          const written = log.raw.join('\n');
          // Redacted in the log, untouched in the caller's object, the rest kept.
          return (
            !written.includes(value) &&
            written.includes('visible') &&
            JSON.stringify(object) === given
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test('child logger bindings are redacted too, and errors keep their message and stack', () => {
    const log = captureLog();
    log.logger
      .child({ component: 'webhooks', apiKey: 'S-child-key' })
      .error({ err: new Error('kaput') }, 'failed');
    expect(log.raw[0]).not.toContain('S-child-key');
    expect(log.lines[0]).toMatchObject({
      component: 'webhooks',
      apiKey: '[redacted]',
      err: { message: 'kaput' },
    });
    expect((log.lines[0].err as { stack: string }).stack).toContain('Error: kaput');
  });

  test('the explicit paths are redacted even on objects that are not plain', () => {
    class Req {
      headers = { authorization: 'Bearer S-class-bearer', host: 'api.example.com' };
    }
    const log = captureLog();
    log.logger.info({ req: new Req() }, 'x');
    expect(log.raw[0]).not.toContain('S-class-bearer');
    expect(log.raw[0]).toContain('api.example.com');
    expect(REDACT_PATHS).toContain('req.headers.authorization');
  });
});

describe('log lines', () => {
  test('are JSON with a level name, an ISO time and the service name', () => {
    const log = captureLog('info');
    log.logger.warn({ count: 3 }, 'hello');
    log.logger.debug('not written at info');
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({
      level: 'warn',
      msg: 'hello',
      count: 3,
      service: 'tenant-voice-graphql',
    });
    expect(new Date(log.lines[0].time as string).toISOString()).toBe(log.lines[0].time);
  });

  test('written while a request is served carry its request id and trace id', async () => {
    const log = captureLog();
    const trace = traceContextFrom(undefined);
    const observation = {
      requestId: 'req-inside-1',
      trace,
      statements: 0,
      dbSeconds: 0,
      annotations: {},
    };
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
