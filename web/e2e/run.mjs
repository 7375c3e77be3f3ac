// Entry point of the browser tests: checks the prerequisites, then runs every e2e/*.test.mjs, or
// those whose names contain one of the arguments (`node e2e/run.mjs inpaint jobs`).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { binaryPath, webDir } from './server.mjs';

const problems = [];
if (!existsSync(binaryPath())) problems.push(`no server binary at ${binaryPath()} (build it, or set ATELIER_BIN)`);
if (!existsSync(path.join(webDir, 'dist', 'index.html'))) problems.push('no web/dist: run `npm run build` first');
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromium)) problems.push(`no browser at ${chromium} (apt-get install -y chromium)`);
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(2);
}

const dir = path.join(webDir, 'e2e');
const wanted = process.argv.slice(2);
const names = readdirSync(dir).filter((f) => f.endsWith('.test.mjs') && (wanted.length === 0 || wanted.some((w) => f.includes(w))));
if (names.length === 0) {
  console.error(`no browser test file matches ${wanted.join(', ')}`);
  process.exit(2);
}
const files = names.sort().map((f) => path.join(dir, f));
// The spec reporter also when piped (Node picks TAP then), so logs and CI summaries read the same.
const args = ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
