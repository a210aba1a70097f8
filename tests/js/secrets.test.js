// Generated operator secrets: made on first start, kept in the data
// directory with mode 0600, shown and rotated with `podium secrets`, never
// logged; a running server picks up a rotation on SIGHUP.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';

import { startServer, connect, podiumBin, sleep, testStore } from './harness.js';

const noConfiguredSecrets = { PODIUM_ADMIN_SECRET: null, PODIUM_LOGIN_CODE: null };

function secretsCommand(dataDir, ...args) {
  const env = { ...process.env };
  delete env.PODIUM_ADMIN_SECRET;
  delete env.PODIUM_LOGIN_CODE;
  const out = execFileSync(podiumBin(), ['secrets', ...args, '--data-dir', dataDir], {
    env,
    encoding: 'utf8',
  });
  const admin = /^admin secret: (\S+)$/m.exec(out)?.[1];
  const code = /^login code: +(\S+)$/m.exec(out)?.[1];
  assert.ok(admin && code, out);
  return { admin, code, out };
}

async function tryAuthenticate(server, secret) {
  const c = await connect(server);
  const ack = await c.request('authenticate', { secret, userId: 0 });
  c.close();
  return ack.ok;
}

async function tryLogin(server, loginCode) {
  const c = await connect(server);
  const ack = await c.request('login', { judgeId: 1, loginCode });
  c.close();
  return ack.ok;
}

// These are the data directory's secrets: in cluster mode the database
// keeps them instead (tests/cluster_secrets.rs).
const fileSecrets = {
  skip: testStore() === 'postgres' && 'cluster mode keeps the secrets in the database',
};

describe('operator secrets', fileSecrets, () => {
  it('are generated once, shown, rotated, reloaded on SIGHUP and never logged', async () => {
    const server = await startServer({ env: noConfiguredSecrets, log: 'debug' });
    try {
      const file = join(server.dataDir, 'secrets.json');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const shown = secretsCommand(server.dataDir, 'show');
      assert.match(shown.admin, /^[0-9a-f]{64}$/);
      assert.match(shown.code, /^[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}$/);
      assert.match(server.output(), /podium secrets show --data-dir/);

      assert.equal(await tryAuthenticate(server, shown.admin), true);
      const admin = await connect(server);
      await admin.request('authenticate', { secret: shown.admin, userId: 0 });
      await admin.request('add-judge', { name: 'Ada', email: 'ada@example.org' });
      assert.equal(await tryLogin(server, shown.code), true);

      // Rotating the login code changes the file; the server uses it after SIGHUP.
      const rotated = secretsCommand(server.dataDir, 'rotate', '--login-code');
      assert.equal(rotated.admin, shown.admin);
      assert.notEqual(rotated.code, shown.code);
      assert.match(rotated.out, /kill -HUP/);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      server.proc.kill('SIGHUP');
      await sleep(300);
      assert.equal(await tryLogin(server, rotated.code), true);
      assert.equal(await tryLogin(server, shown.code), false);
      // The admin socket authenticated before stays authenticated.
      assert.equal((await admin.request('add-superlative', { name: 'Best' })).ok, true);
      admin.close();

      const log = server.output();
      for (const value of [shown.admin, shown.code, rotated.code]) {
        assert.ok(!log.includes(value), 'a secret appeared in the log');
      }
    } finally {
      await server.stop();
      server.cleanup();
    }
  });

  it('keep the same values across restarts, and a configured value wins', async () => {
    const first = await startServer({ env: noConfiguredSecrets });
    await first.stop();
    const shown = secretsCommand(first.dataDir, 'show');
    const second = await startServer({
      dataDir: first.dataDir,
      env: { PODIUM_ADMIN_SECRET: 'configured-admin-secret-long-enough', PODIUM_LOGIN_CODE: null },
    });
    try {
      assert.equal(await tryAuthenticate(second, 'configured-admin-secret-long-enough'), true);
      assert.equal(await tryAuthenticate(second, shown.admin), false);
      assert.equal(secretsCommand(first.dataDir, 'show').code, shown.code);
    } finally {
      await second.stop();
      first.cleanup();
    }
  });
});
