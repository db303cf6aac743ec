// Helpers of the end-to-end run: the gateway process, the browser, axe,
// screenshots, mouse drags and small assertions.

import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

export const STUDIO = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO = dirname(dirname(STUDIO));
export const OUT = join(REPO, 'target', 'studio');
export const SHOTS = join(OUT, 'screenshots');

export function freePort() {
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

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check, timeout, what) {
  const until = Date.now() + timeout;
  let last;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** Starts the gateway on a free port with a fresh data folder. */
export async function startGateway(bin) {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'nocode-studio-e2e-'));
  mkdirSync(OUT, { recursive: true });
  const log = createWriteStream(join(OUT, 'gateway.log'));
  const child = spawn(bin, ['--port', String(port), '--data-dir', data], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (exited) throw new Error(`the gateway exited (${JSON.stringify(exited)}); see ${join(OUT, 'gateway.log')}`);
      const res = await fetch(`${origin}/api/v1/health`);
      return res.ok;
    },
    60_000,
    'the gateway health',
  );
  return {
    origin,
    data,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
        if (!exited) child.kill('SIGKILL');
      }
      if (!process.env.KEEP_E2E_DATA) rmSync(data, { recursive: true, force: true });
    },
  };
}

/** `vite preview` of dist/ with /api proxied to the gateway (STUDIO_PREVIEW=1). */
export async function startPreview(apiOrigin) {
  const port = await freePort();
  const vite = join(STUDIO, 'node_modules', 'vite', 'bin', 'vite.js');
  const child = spawn(process.execPath, [vite, 'preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
    cwd: STUDIO,
    env: { ...process.env, NOCODE_API: apiOrigin },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(join(OUT, 'preview.log'));
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${origin}/studio/`)).ok, 30_000, 'vite preview');
  return {
    origin,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
    },
  };
}

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser of its own: a persistent context on a fresh profile folder. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'nocode-studio-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 1440, height: 900 },
  });
  context.setDefaultTimeout(10_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, errors };
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe on the page as it is; throws with every violation. */
export async function axe(page, screen) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${n.failureSummary?.split('\n').slice(1, 3).join(' ')}`),
    }));
  });
  if (violations.length) {
    const text = violations.map((v) => `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
    throw new Error(`axe found ${violations.length} violation(s) on ${screen}:\n${text}`);
  }
}

const screens = [];

/** The screen's axe check and its screenshot artefact. */
export async function screen(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForLoadState('load');
  await sleep(150);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  await axe(page, name);
  screens.push(name);
}

export const checkedScreens = () => screens;

/** A mouse drag in small steps, as dnd-kit needs. */
export async function drag(page, from, to, { settle = 120 } = {}) {
  const a = await box(from);
  const b = typeof to.x === 'number' ? to : await box(to);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(a.x + 8, a.y + 8, { steps: 4 });
  await page.mouse.move(b.x, b.y, { steps: 12 });
  await sleep(settle);
  await page.mouse.move(b.x, b.y + 1, { steps: 2 });
  await sleep(settle);
  await page.mouse.up();
  await sleep(settle);
}

async function box(locator) {
  await locator.scrollIntoViewIfNeeded();
  const b = await locator.boundingBox();
  if (!b) throw new Error(`no box for ${locator}`);
  return { x: b.x + b.width / 2, y: b.y + b.height / 2, box: b };
}

export function assert(ok, message) {
  if (!ok) throw new Error(message);
}

export function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** Polls until `fn` returns a truthy value. */
export async function until(fn, what, timeout = 10_000) {
  const end = Date.now() + timeout;
  let last;
  let lastError;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out: ${what}${lastError ? ` (${lastError.message})` : ''}${last !== undefined ? ` (last: ${JSON.stringify(last)})` : ''}`);
}

/** A tree as nested component kinds: `page(container(text),heading)`. */
export function shape(node) {
  return node.children?.length ? `${node.component}(${node.children.map(shape).join(',')})` : node.component;
}
