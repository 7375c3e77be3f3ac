// Fast API-level setup for the browser tests that do not test these steps themselves: the first
// admin, accounts and the tiny model (the UI paths are covered in multiuser.test.mjs).
import path from 'node:path';
import { Api } from './api.mjs';
import { writeTinyModel } from './server.mjs';
import { ADMIN } from './ui.mjs';

/** Creates the administrator with the setup token and returns its API client. */
export async function createAdmin(server) {
  await new Api(server.url).call('POST', '/auth/setup', {
    setup_token: server.setupToken,
    email: ADMIN.email,
    display_name: ADMIN.name,
    password: ADMIN.password,
  });
  return Api.login(server.url, ADMIN.email, ADMIN.password);
}

/** Adds a (non-admin) account; returns the server's user. */
export function addUser(adminApi, user) {
  return adminApi.call('POST', '/auth/users', {
    email: user.email,
    display_name: user.name,
    password: user.password,
    is_admin: false,
  });
}

/** Writes and installs the tiny SD 1.x model as "tiny" with 4 default steps; returns the model. */
export async function installTinyModel(server, adminApi) {
  const source = path.join(server.modelsDir, 'tiny');
  await writeTinyModel(source);
  const started = await adminApi.call('POST', '/models/install', { source, name: 'tiny' });
  const install = await Api.until(
    async () => {
      const now = await adminApi.call('GET', `/models/installs/${started.id}`);
      if (now.status === 'failed') throw new Error(`the install failed: ${now.error}`);
      return now.status === 'completed' ? now : null;
    },
    { timeoutMs: 180_000, what: 'the tiny model install' },
  );
  return adminApi.call('PATCH', `/models/${install.model_id}`, { defaults: { steps: 4 } });
}
