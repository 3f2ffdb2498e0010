// Kiln's pages in a real browser (headless Debian Chromium via playwright-core), against a
// private stack with a real dispatcher and build-node agent. The journeys run in order and
// build on each other: the node registered in the second runs the build of the third.
// Screenshots of every page at 1366×900 and 390×844 go to $KILN_BROWSER_OUT.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { csrfToken, launchPerson, screenshots, signIn, startStack } from './support.mjs';

let stack;
let admin;
const state = {};

before(async () => {
  stack = await startStack();
  admin = await launchPerson();
});

after(async () => {
  await admin?.close();
  await stack?.stop();
});

const badge = (page) => page.locator('#build-status');

test('an admin signs in with an API token and lands on the page asked for', async () => {
  const { page, context } = admin;
  await page.goto(`${stack.url}/admin`);
  assert.match(page.url(), /\/admin\/login\?next=\/admin$/);
  await screenshots(page, 'login');
  await signIn(page, stack.url, 'kiln_not-a-real-token');
  assert.ok(await page.getByRole('alert').filter({ hasText: 'unknown, expired or revoked' }).isVisible());

  await page.goto(`${stack.url}/admin`);
  await page.getByLabel('API token').fill(stack.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${stack.url}/admin`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Dashboard');

  const cookie = (await context.cookies()).find((c) => c.name === '__Host-kiln_session');
  assert.ok(cookie, 'a __Host- session cookie is set (the browser accepts it on this trustworthy origin)');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.secure, true, 'Secure, even on plain HTTP to the loopback address');
  assert.equal(cookie.path, '/');
  assert.ok(!(await page.evaluate(() => document.cookie)).includes('kiln_session'), 'scripts cannot read it');
  const rows = await stack.call({ cmd: 'sql', query: 'select count(*) from kiln.web_sessions where revoked_at is null' });
  assert.equal(rows.rows[0][0], 1, 'the session lives on the server');
});

test('an admin registers a build node and its token is shown once, its HTML-laden label escaped', async () => {
  const { page, dialogs } = admin;
  await page.goto(`${stack.url}/admin/build-nodes`);
  await page.getByLabel('Name', { exact: true }).fill('browser-node');
  await page.getByLabel('Labels').fill('arch=amd64, owner=<script>alert("owned")</script>');
  await page.getByLabel('CPU cores').fill('2');
  await page.getByLabel('Memory (GB)').fill('4');
  await page.getByLabel('Concurrency').fill('2');
  await page.getByRole('button', { name: 'Register node' }).click();

  await page.getByRole('heading', { name: 'Build node browser-node registered' }).waitFor();
  state.nodeToken = (await page.locator('pre.token').textContent()).trim();
  assert.match(state.nodeToken, /^kiln_node_[A-Za-z0-9_-]{43}$/);
  const row = page.getByRole('row').filter({ hasText: 'browser-node' });
  assert.ok(await row.getByText('owner=<script>alert("owned")</script>').isVisible(), 'the label is shown as text');
  await screenshots(page, 'build-node-registered');

  await page.goto(`${stack.url}/admin/build-nodes`);
  assert.equal(await page.locator('pre.token').count(), 0, 'the token is not shown again');
  assert.ok(!(await page.content()).includes(state.nodeToken));
  assert.deepEqual(dialogs, [], 'no script from a label ran');
});

test('a build submitted through the form runs to succeeded on its page, its log followed live', async () => {
  const { page } = admin;
  const created = await fetch(`${stack.url}/api/v1/projects`, {
    method: 'POST', headers: { Authorization: `Bearer ${stack.adminToken}` },
    body: JSON.stringify({ name: 'hello-c', language: 'c' }),
  });
  assert.equal(created.status, 201);
  await stack.call({ cmd: 'dispatcher' });
  await stack.call({ cmd: 'agent', name: 'browser-node', token: state.nodeToken, labels: ['arch=amd64'] });

  await page.goto(`${stack.url}/builds/new`);
  await page.getByRole('link', { name: 'script', exact: true }).click();
  await page.getByLabel('Project').selectOption('hello-c');
  await page.getByLabel('script (required)').fill(
    'echo "first line"; sleep 5; echo "<b>second line</b>"');
  await page.getByLabel('CPU cores').fill('1');
  await page.getByLabel('Memory (GB)').fill('1');
  await page.getByLabel('Time budget (min)').fill('10');
  const auto = page.getByRole('radio', { name: /Auto/ });
  assert.equal(await auto.isChecked(), true, 'Auto is preselected');
  await page.getByRole('button', { name: 'Update recommendation' }).click();
  await page.locator('.recommendation').waitFor();
  assert.match(await page.locator('.recommendation').getAttribute('class'), /c-(high|medium|low)/);
  await screenshots(page, 'build-form');

  await page.getByRole('button', { name: 'Submit and start' }).click();
  await page.waitForURL(/\/admin\/builds\/[0-9a-f-]{36}$/);
  state.buildUrl = page.url();
  const log = page.locator('#build-log');
  await log.filter({ hasText: 'first line' }).waitFor({ timeout: 60_000 });
  if (!(await log.textContent()).includes('second line')) {
    assert.ok(['queued', 'dispatching', 'running'].includes(await badge(page).textContent()),
              'the first line arrived while the build was still running');
    await screenshots(page, 'build-running');
  }
  await page.locator('#build-status', { hasText: 'succeeded' }).waitFor({ timeout: 90_000 });
  // The script reloads the page once the build ended: the reloaded log follows nothing.
  await page.locator('#build-log:not([data-follow])').waitFor({ timeout: 30_000 });
  assert.ok((await log.textContent()).includes('<b>second line</b>'), 'the log is text, not HTML');
  assert.ok(await page.getByRole('cell', { name: 'build_nodes', exact: true }).first().isVisible(),
            'the execution ran on build nodes');
  await screenshots(page, 'build-succeeded');
});

test('the dashboard counts the build and shows the health grid, escaping a provider name', async () => {
  const { page, dialogs } = admin;
  await stack.call({ cmd: 'sql', query: "insert into kiln.providers (name, display_name, provider_type, api_server) values ('evil', '<img src=x onerror=alert(1)>', 'kubernetes', 'https://127.0.0.1:1')" });
  await page.goto(`${stack.url}/admin`);
  const bars = page.locator('svg.bars');
  const succeeded = bars.locator('text.label', { hasText: /^succeeded$/ });
  assert.equal(await succeeded.count(), 1);
  assert.equal(await bars.locator('text.value').nth(4).textContent(), '1', 'one succeeded build');
  const usage = page.locator('dl.figures').nth(1);
  assert.match(await usage.textContent(), /Build nodes\s*1\s*\(100%\)/);
  assert.ok(await page.getByText('<img src=x onerror=alert(1)>').isVisible(), 'the provider name is text');
  assert.ok(await page.locator('.tile', { hasText: 'browser-node' }).isVisible(), 'the node is in the health grid');
  await screenshots(page, 'dashboard');

  await page.goto(`${stack.url}/admin/builds?status=succeeded`);
  assert.equal(await page.locator('table.builds tbody tr').count(), 1);
  await screenshots(page, 'builds');
  await page.goto(`${stack.url}/admin/audit`);
  assert.ok(await page.locator('table.audit').getByText('build_node.register').first().isVisible(),
            'the registration is audited');
  await screenshots(page, 'audit-log');
  await page.goto(`${stack.url}/admin/usage?period=day`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Usage');
  await screenshots(page, 'usage');
  assert.deepEqual(dialogs, []);
});

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: kiln
  user:
    token: never-shown-secret-token
contexts:
- name: lab
  context: {cluster: lab, user: kiln, namespace: builds}
current-context: lab
`;

test('an admin adds a provider from a kubeconfig, edits its node pools and never sees its credentials', async () => {
  const { page } = admin;
  await page.goto(`${stack.url}/admin/providers`);
  await page.getByLabel('Name', { exact: true }).fill('lab');
  await page.getByLabel('Display name').fill('Lab cluster');
  await page.getByLabel('Type').selectOption('kubernetes');
  await page.getByLabel('Kubeconfig', { exact: true }).fill(KUBECONFIG);
  await page.getByLabel('Node pools (JSON)').fill('[{"name": "general", "capabilities": []}]');
  await page.getByRole('button', { name: 'Add provider' }).click();
  await page.getByRole('status').filter({ hasText: 'The provider was added' }).waitFor();
  const row = page.getByRole('row').filter({ hasText: 'Lab cluster' }).first();
  assert.match(await row.textContent(), /general/);
  assert.match(await row.textContent(), /token · sha256:[0-9a-f]{16}/, 'the credential kind and fingerprint only');
  assert.ok(!(await page.content()).includes('never-shown-secret-token'), 'the token is never shown');

  await page.getByText('Edit Lab cluster').click();
  await page.locator('details.edit[open] textarea[name="node_pools"]').fill(
    '[{"name": "general", "capabilities": []}, {"name": "gpu-pool", "capabilities": ["gpu"]}]');
  await page.locator('details.edit[open]').getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'updated' }).waitFor();
  assert.match(await page.getByRole('row').filter({ hasText: 'Lab cluster' }).first().textContent(), /gpu-pool \(gpu\)/);
  await page.getByRole('button', { name: 'Test connection' }).first().click();
  await page.getByRole('status').filter({ hasText: 'connection test was requested' }).waitFor();
  await screenshots(page, 'providers');
  const stored = await stack.call({ cmd: 'sql', query: "select position(convert_to('never-shown', 'UTF8') in credentials_ciphertext) from kiln.providers where name = 'lab'" });
  assert.equal(stored.rows[0][0], 0, 'the credentials are stored encrypted');
});

test('an admin previews a pipeline template and sees a broken new version refused inline', async () => {
  const { page } = admin;
  await page.goto(`${stack.url}/admin/pipeline-templates`);
  await screenshots(page, 'pipeline-templates');
  await page.getByRole('row').filter({ hasText: 'script' }).getByRole('link').first().click();
  await page.getByRole('button', { name: 'Render' }).waitFor();
  const script = page.getByLabel(/^script/);
  if (await script.count()) await script.fill('make test');
  await page.getByRole('button', { name: 'Render' }).click();
  await page.getByRole('heading', { name: 'Rendered PipelineRun' }).waitFor();
  assert.match(await page.locator('pre.log').first().textContent(), /kind: PipelineRun/);
  await screenshots(page, 'pipeline-template-preview');

  await page.getByRole('textbox', { name: 'Version' }).fill('9.9.9');
  const yaml = page.getByRole('textbox', { name: 'Template' });
  await yaml.fill((await yaml.inputValue()) + '\n# {{NOT_DECLARED}}\n');
  await page.getByRole('button', { name: 'Save new version' }).click();
  assert.match(await page.getByRole('alert').textContent(), /NOT_DECLARED/,
               'the validation error names the variable, next to the form');
  assert.equal(await page.getByRole('textbox', { name: 'Version' }).inputValue(), '9.9.9', 'what was typed is kept');
  await screenshots(page, 'pipeline-template-error');
});

test('a form posted without its CSRF token is refused and changes nothing', async () => {
  const { page } = admin;
  await page.goto(`${stack.url}/admin/build-nodes`);
  const row = page.getByRole('row').filter({ hasText: 'browser-node' });
  await row.locator('form[action$="/drain"] input[name="csrf_token"]').evaluate((input) => input.remove());
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/drain')),
    row.getByRole('button', { name: 'Drain' }).click(),
  ]);
  assert.equal(response.status(), 403);
  assert.match(await page.locator('.error-message').textContent(), /CSRF token is missing or stale/);
  await screenshots(page, 'csrf-refused');
  const status = await stack.call({ cmd: 'sql', query: "select status::text from kiln.build_nodes where name = 'browser-node'" });
  assert.equal(status.rows[0][0], 'active');
});

test('a developer sees no admin actions and gets 403 when posting one anyway', async () => {
  const { token } = await stack.call({ cmd: 'token', tenant: 'default', user: 'dev', role: 'developer' });
  const dev = await launchPerson();
  try {
    const { page } = dev;
    await signIn(dev.page, stack.url, token);
    assert.match(page.url(), /\/builds\/new$/, 'a developer lands on the build form');
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Dashboard', 'Providers', 'Build nodes', 'Pipeline templates', 'Usage', 'Audit log']) {
      assert.equal(await nav.getByRole('link', { name }).count(), 0, `${name} is not offered`);
    }
    assert.equal(await page.getByLabel(/Admin override/).count(), 0);
    await screenshots(page, 'developer-build-form');

    const denied = await page.goto(`${stack.url}/admin/build-nodes`);
    assert.equal(denied.status(), 403);
    await screenshots(page, 'forbidden');

    await page.goto(state.buildUrl);
    assert.equal(await page.getByRole('button', { name: 'Start' }).count(), 0);
    const csrf = await csrfToken(page);
    const nodes = await stack.call({ cmd: 'sql', query: "select id::text from kiln.build_nodes where name = 'browser-node'" });
    for (const action of ['drain', 'deprecate']) {
      const r = await dev.context.request.post(`${stack.url}/admin/build-nodes/${nodes.rows[0][0]}/${action}`,
                                               { form: { csrf_token: csrf }, maxRedirects: 0 });
      assert.equal(r.status(), 403, `${action} is refused`);
    }
    const r = await dev.context.request.post(`${stack.url}/admin/build-nodes`,
                                             { form: { csrf_token: csrf, name: 'sneaky' }, maxRedirects: 0 });
    assert.equal(r.status(), 403);
    const count = await stack.call({ cmd: 'sql', query: "select count(*) from kiln.build_nodes where name = 'sneaky' or status <> 'active'" });
    assert.equal(count.rows[0][0], 0);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login$/);
    await page.goto(`${stack.url}/admin/builds`);
    assert.match(page.url(), /\/admin\/login\?next=/, 'the session ended on sign-out');
  } finally {
    await dev.close();
  }
});
