// Starts a real `atelier serve --multiuser` for the browser tests and stops it (SIGTERM) afterwards.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
export const webDir = path.resolve(here, '..');
const repoDir = path.resolve(webDir, '..');

/** The server binary: $ATELIER_BIN (relative paths resolve against the repository) or target/debug. */
export function binaryPath() {
  const bin = process.env.ATELIER_BIN || 'target/debug/atelier';
  return path.isAbsolute(bin) ? bin : path.resolve(repoDir, bin);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A running server: its URL, data dir, log and setup token. */
export async function startServer({ multiuser = true, dataDir, s3 = false } = {}) {
  const bin = binaryPath();
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'atelier-e2e-')));
  const port = await freePort();
  const env = {
    ...process.env,
    ATELIER__DATA_DIR: dir,
    ATELIER__LISTEN: `127.0.0.1:${port}`,
    ATELIER__WORKER__DEVICE: 'cpu',
    ATELIER__WEB__DIR: path.join(webDir, 'dist'),
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  };
  const s3Port = s3 ? await freePort() : null;
  if (s3Port) env.ATELIER__S3__LISTEN = `127.0.0.1:${s3Port}`;
  const args = ['serve'];
  if (multiuser) args.push('--multiuser');
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stopOnExit = () => child.kill('SIGTERM');
  process.on('exit', stopOnExit);

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited early (${child.exitCode}):\n${log}`);
    try {
      const response = await fetch(`${url}/api/v1/auth/status`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the server did not start within 120 s:\n${log}`);
    }
    await sleep(250);
  }
  const setupToken = multiuser
    ? (await readFile(path.join(dir, 'secrets', 'setup_token'), 'utf8').catch(() => '')).trim()
    : '';

  return {
    url,
    s3Url: s3Port ? `http://127.0.0.1:${s3Port}` : null,
    dataDir: dir,
    modelsDir: path.join(dir, 'models'),
    setupToken,
    log: () => log,
    /** Stops the server with SIGTERM (then SIGKILL after 30 s) and removes its data dir. */
    async stop({ keepData = false } = {}) {
      process.off('exit', stopOnExit);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      if (!keepData && !dataDir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** Runs `atelier model write-tiny DIR --sd15`: a tiny random SD 1.x-shaped model (and with `lora`, an SD 1.x LoRA for it to that file). */
export async function writeTinyModel(dir, { lora } = {}) {
  const args = ['model', 'write-tiny', dir, '--sd15'];
  if (lora) args.push('--lora', lora);
  await promisify(execFile)(binaryPath(), args, { maxBuffer: 16 << 20 });
}
