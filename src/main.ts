import 'reflect-metadata';
import { ConfigError, loadConfig, type Config } from './config';
import { DEMO_PASSWORD, demoUserLines } from './seed/demo';
import { createDeps, startServer } from './app';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const deps = await createDeps(config);
  const server = await startServer(deps);
  deps.logger.info({ url: server.url, database: deps.db.kind }, 'server listening');
  if (process.stdout.isTTY || config.env !== 'production')
    printBanner(server.url, deps.db.kind, config);
  const shutdown = (signal: string) => {
    deps.logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        deps.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

function printBanner(url: string, database: string, config: Config): void {
  const lines = [
    '',
    `GraphQL:    ${url}/graphql`,
    ...(config.playground ? [`Playground: ${url}/playground`] : []),
    `Database:   ${database === 'pglite' ? `embedded PGlite (${config.pgliteDataDir})` : 'PostgreSQL (DATABASE_URL)'}`,
  ];
  if (config.seedDemoData) {
    lines.push(`Demo users (password: ${DEMO_PASSWORD}):`, ...demoUserLines().map((l) => `  ${l}`));
  }
  console.log(lines.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
