// Shared by the browser journeys: a private stack (stack_launcher.py), Debian's Chromium
// driven by playwright-core, sign-in, and screenshots at laptop and phone widths.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const outDir = process.env.KILN_BROWSER_OUT || path.join(here, 'output');
export const LAPTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

// Starts a stack; resolves to {url, adminToken, call(cmd), stop()}.
export async function startStack() {
  const proc = spawn('/usr/bin/python3', [path.join(here, 'stack_launcher.py')],
                     { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  const lines = readline.createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on('line', (line) => { const next = waiting.shift(); if (next) next(JSON.parse(line)); });
  const nextLine = () => new Promise((resolve) => waiting.push(resolve));
  const first = await nextLine();
  if (first.error) throw new Error(`the stack did not start: ${first.error}`);
  const call = async (cmd) => {
    const reply = nextLine();
    proc.stdin.write(JSON.stringify(cmd) + '\n');
    const answer = await reply;
    if (answer.error) throw new Error(`${cmd.cmd}: ${answer.error}`);
    return answer;
  };
  const stop = () => new Promise((resolve) => { proc.on('exit', resolve); proc.stdin.end(); });
  return { url: first.url, adminToken: first.admin_token, call, stop };
}

// A person at a browser: a persistent context on a fresh user-data-dir. Every dialog
// (alert, confirm) is recorded: an escaped page never opens one.
export async function launchPerson() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: LAPTOP,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const page = context.pages()[0] || await context.newPage();
  const dialogs = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  return {
    context, page, dialogs,
    close: async () => { await context.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

export async function signIn(page, url, token, next = '') {
  await page.goto(`${url}/admin/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('load');
}

// Full-page screenshots of the current page at both widths, into outDir.
export async function screenshots(page, name) {
  fs.mkdirSync(outDir, { recursive: true });
  for (const [size, viewport] of [['laptop', LAPTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(outDir, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(LAPTOP);
}

// The session's CSRF token, as every page's sign-out form carries it.
export async function csrfToken(page) {
  return page.locator('form.signout input[name="csrf_token"]').inputValue();
}
