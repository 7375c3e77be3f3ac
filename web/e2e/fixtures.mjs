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

/** Installs the file or folder at `source` (on the server) under `name` as the admin, waiting for the install; returns the model. */
export async function installModel(adminApi, source, name) {
  const started = await adminApi.call('POST', '/models/install', { source, name });
  const install = await Api.until(
    async () => {
      const now = await adminApi.call('GET', `/models/installs/${started.id}`);
      if (now.status === 'failed') throw new Error(`the install failed: ${now.error}`);
      return now.status === 'completed' ? now : null;
    },
    { timeoutMs: 180_000, what: `the ${name} install` },
  );
  return adminApi.call('GET', `/models/${install.model_id}`);
}

/**
 * Writes and installs the tiny SD 1.x model as "tiny" with 4 default steps; returns the model.
 * With `lora`, also writes an SD 1.x LoRA for it to that file (not installed).
 */
export async function installTinyModel(server, adminApi, { lora } = {}) {
  const source = path.join(server.modelsDir, 'tiny');
  await writeTinyModel(source, { lora });
  const model = await installModel(adminApi, source, 'tiny');
  return adminApi.call('PATCH', `/models/${model.id}`, { defaults: { steps: 4 } });
}
