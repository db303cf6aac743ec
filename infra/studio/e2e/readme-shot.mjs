// Makes page-editor.png, the README's picture of the page editor: a page
// built through the API on a fresh gateway, opened in the studio.
// `npm run readme-shot` (NOCODE_BIN as for the e2e run; dist built).

import { join } from 'node:path';
import { REPO, STUDIO, launch, startGateway, sleep } from './lib.mjs';

const bin = process.env.NOCODE_BIN ?? join(REPO, 'target', 'debug', 'nocode');
const gateway = await startGateway(bin);
const api = gateway.origin + '/api/v1';
let auth = {};
const call = async (method, path, body) => {
  const res = await fetch(api + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...auth },
    body: body && JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};

const browser = await launch();
try {
  const user = { email: 'grace@example.com', password: 'Correct-Horse-9-Battery' };
  await call('POST', '/foundation/auth/register/client', { ...user, first_name: 'Grace', last_name: 'Hopper' });
  const session = await call('POST', '/foundation/auth/login', user);
  auth = { Authorization: `Bearer ${session.access}` };
  const org = await call('POST', '/foundation/organizations', { name: 'Acme' });
  const project = await call('POST', '/studio/projects', { organization_id: org.id, name: 'Support desk' });
  const table = await call('POST', `/studio/projects/${project.id}/add_table`, {
    name: 'Tickets',
    fields: [
      { name: 'subject', type: 'text', required: true },
      { name: 'email', type: 'email', required: true },
      { name: 'priority', type: 'single_select', choices: ['low', 'normal', 'urgent'] },
    ],
  });
  const [subject, email, priority] = table.fields.map((f) => f.id);
  const node = (id, component, props = {}, children = []) => ({ id, component, props, children });
  const tree = node('root', 'page', { title: 'Contact us' }, [
    node('title', 'heading', { content: 'How can we help?', level: 1 }),
    node('intro', 'text', { content: 'Tell us what happened; we answer within a day.' }),
    node('cols', 'row', { gap: 16 }, [
      node('left', 'column', { span: 8 }, [
        node('ticket', 'form', { table: table.id }, [
          node('f1', 'input', { field: subject, label: 'Subject' }),
          node('f2', 'input', { field: email, label: 'Your e-mail', placeholder: 'you@example.com' }),
          node('f3', 'input', { field: priority, label: 'Priority' }),
          node('send', 'button', { label: 'Send', variant: 'primary' }),
        ]),
      ]),
      node('right', 'column', { span: 4 }, [
        node('faq', 'heading', { content: 'Quick answers', level: 3 }),
        node('faq1', 'link', { label: 'Reset a password', href: '/help/password' }),
        node('faq2', 'link', { label: 'Billing questions', href: '/help/billing' }),
      ]),
    ]),
    node('line', 'divider'),
    node('recent', 'table', { table: table.id, page_size: 10 }),
  ]);
  const page = await call('POST', `/studio/projects/${project.id}/add_page`, { name: 'Contact', path: '/contact', tree });
  const tab = browser.page;
  await tab.goto(`${gateway.origin}/studio/signin`);
  await tab.evaluate((s) => localStorage.setItem('nocode.studio.session', JSON.stringify(s)), session);
  await tab.goto(`${gateway.origin}/studio/projects/${project.id}/pages/${page.id}`);
  await tab.getByRole('heading', { name: /^Contact/ }).waitFor();
  await tab.locator('[role="tree"] li[data-node-id="f2"] > .outline-label').click();
  await sleep(300);
  const out = join(STUDIO, 'page-editor.png');
  await tab.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.context.close();
  await gateway.stop();
}
