// Shared launch settings for the headless-Chromium tests (the same as gpu.test.mjs's): Debian's Chromium driven by
// playwright-core (never a downloaded browser), WebGPU allowed on software adapters (SwiftShader without a GPU).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.WEBCLIP_CHROMIUM || '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', // Chromium blocklists CPU adapters (SwiftShader) without it: requestAdapter() gives null
  '--headless=new',
  '--no-sandbox',
  '--enable-webgpu-developer-features',
  // the closed network otherwise floods the log with refused connections
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  // --user-data-dir=<fresh temp dir>: playwright passes it (launchPersistentContext), it refuses it in args
];

/** Launches Chromium with a fresh profile: { context, page, profile } (remove `profile` when done). */
export async function launch({ viewport = { width: 1100, height: 900 } } = {}) {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed (npm --prefix tests/browser ci): ${e.message}`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'webclip-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000, viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, profile };
}
