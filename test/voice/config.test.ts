import { ConfigError, loadConfig } from '../../src/config';

/** The voice agent's configuration: allowlist default and validation, limits, the old token. */
test("the allowlist defaults to Retell's published address", () => {
  const config = loadConfig({ NODE_ENV: 'test' });
  expect(config.voiceAllowedCidrs).toEqual(['100.20.5.228/32']);
  expect(config.voiceLimits).toEqual({ perCall: 50, perMinute: 20, perFunction: 10 });
});

test('addresses and CIDRs are read; a bad entry stops the start, naming the variable', () => {
  const config = loadConfig({ NODE_ENV: 'test', VOICE_AGENT_ALLOWED_IPS: '10.0.0.0/8, ::1' });
  expect(config.voiceAllowedCidrs).toEqual(['10.0.0.0/8', '::1/128']);
  expect(() => loadConfig({ NODE_ENV: 'test', VOICE_AGENT_ALLOWED_IPS: '10.0.0.0/33' })).toThrow(
    /VOICE_AGENT_ALLOWED_IPS/,
  );
  expect(() => loadConfig({ NODE_ENV: 'test', VOICE_AGENT_ALLOWED_IPS: 'retell.com' })).toThrow(
    ConfigError,
  );
});

test('the old shared VOICE_AGENT_TOKEN is refused (per-company secrets replace it)', () => {
  expect(() => loadConfig({ NODE_ENV: 'test', VOICE_AGENT_TOKEN: 'abc' })).toThrow(
    /VOICE_AGENT_TOKEN is no longer supported/,
  );
});
