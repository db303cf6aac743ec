// The studio's end-to-end run: the real gateway (NOCODE_BIN, default
// <repo>/target/debug/nocode) on a free port with a fresh data folder,
// serving the built app at /studio/; Debian's chromium driven by
// playwright-core; axe on every screen; a screenshot of each screen in
// <repo>/target/studio/screenshots/. One PASS or FAIL line per scenario;
// the exit code is non-zero on any failure.
//
// STUDIO_PREVIEW=1 serves dist/ with `vite preview` (its /api proxied to
// the gateway) instead of the gateway's own /studio/.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, SHOTS, checkedScreens, launch, startGateway, startPreview } from './lib.mjs';
import { scenarios } from './scenarios.mjs';

const bin = process.env.NOCODE_BIN ?? join(REPO, 'target', 'debug', 'nocode');
const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(1);

if (!existsSync(bin)) {
  console.error(`FAIL setup: no gateway binary at ${bin} (set NOCODE_BIN)`);
  process.exit(1);
}
if (!existsSync(join(REPO, 'infra', 'studio', 'dist', 'index.html'))) {
  console.error('FAIL setup: infra/studio/dist is not built (npm run build)');
  process.exit(1);
}

const gateway = await startGateway(bin);
let preview;
let browsers = [];
let failed = 0;
let passed = 0;
try {
  let origin = gateway.origin;
  if (process.env.STUDIO_PREVIEW === '1') {
    preview = await startPreview(gateway.origin);
    origin = preview.origin;
  }
  console.log(`gateway ${gateway.origin} (data ${gateway.data}); studio at ${origin}/studio/`);
  const world = {
    origin,
    gateway: gateway.origin,
    served: !preview,
    launch: async () => {
      const b = await launch();
      browsers.push(b);
      return b;
    },
  };
  for (const [name, run] of scenarios) {
    const t0 = Date.now();
    try {
      await run(world);
      passed++;
      console.log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s): ${e.stack ?? e}`);
      for (const b of browsers) {
        for (const [i, p] of b.context.pages().entries()) {
          await p.screenshot({ path: join(SHOTS, `failure-${name.replace(/\W+/g, '-')}-${i}.png`) }).catch(() => {});
        }
        if (b.errors.length) console.log(`  page errors: ${b.errors.join(' | ')}`);
      }
      // Later scenarios build on earlier ones.
      break;
    }
  }
  console.log(`axe found no violation on: ${checkedScreens().join(', ')}`);
} finally {
  for (const b of browsers) await b.context.close().catch(() => {});
  if (preview) await preview.stop();
  await gateway.stop();
}
const skipped = scenarios.length - passed - failed;
console.log(`screenshots in ${SHOTS}`);
console.log(`studio e2e took ${seconds()}s`);
console.log(`e2e: ${passed} passed, ${failed + skipped} failed`);
process.exit(failed || skipped ? 1 : 0);
