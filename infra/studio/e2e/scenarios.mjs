// The scenarios of the studio's end-to-end run, in order: each builds on
// what the one before left (the account, the project, the page).

import { assert, drag, equal, screen, shape, sleep, until } from './lib.mjs';

const EMAIL = `ada.${Date.now()}@example.com`;
const PASSWORD = 'Correct-Horse-9-Battery';
const s = {}; // what the scenarios share

const mod = process.platform === 'darwin' ? 'Meta' : 'Control';

async function token(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('nocode.studio.session')).access);
}

async function call(world, page, method, path, body) {
  const res = await fetch(`${world.gateway}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${await token(page)}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const pageTree = async (world, page) => (await call(world, page, 'GET', `/studio/projects/${s.project}/pages/${s.page}`)).tree;

/** The outline as nested component kinds. */
function outlineShape(page) {
  return page.evaluate(() => {
    const walk = (li) => {
      const group = li.querySelector(':scope > ul[role="group"]');
      const kids = group ? [...group.children].map(walk) : [];
      return kids.length ? `${li.dataset.component}(${kids.join(',')})` : li.dataset.component;
    };
    const top = document.querySelector('[role="tree"] > li');
    return top ? walk(top) : '';
  });
}

const nodeId = (page, component, nth = 0) =>
  page.locator(`[role="tree"] li[data-component="${component}"]`).nth(nth).getAttribute('data-node-id');

const outlineItem = (page, id) => page.locator(`[role="tree"] li[data-node-id="${id}"]`);

async function saved(page) {
  await until(async () => (await page.getAttribute('[data-save-state]', 'data-save-state')) === 'saved', 'the page to be saved', 15_000);
}

async function selectInOutline(page, id) {
  await outlineItem(page, id).locator(':scope > .outline-label').click();
  await until(async () => (await outlineItem(page, id).getAttribute('aria-selected')) === 'true', `node ${id} selected`);
}

const contentField = (page) => page.getByLabel('Content (required)');

async function setContent(page, id, text) {
  await selectInOutline(page, id);
  const field = contentField(page);
  await field.click();
  await page.keyboard.press(`${mod}+A`);
  await field.pressSequentially(text, { delay: 15 });
}

// ---------------------------------------------------------------- 1

async function buildAPage(world) {
  if (world.served) {
    const missing = await fetch(`${world.origin}/studio/assets/no-such-file.js`);
    equal(missing.status, 404, 'a missing asset');
    const deep = await fetch(`${world.origin}/studio/projects/x/pages/y`);
    equal(deep.status, 200, 'a deep link');
    assert((await deep.text()).includes('<div id="root">'), 'a deep link answers the app');
  }
  const a = await world.launch();
  s.a = a;
  const page = a.page;
  await page.goto(`${world.origin}/studio/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await screen(page, 'sign-in');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await screen(page, 'sign-up');
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByLabel('E-mail').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();

  await page.getByRole('heading', { name: 'Organizations' }).waitFor();
  await screen(page, 'organizations');
  await page.getByLabel('Organization name').fill('Acme');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('heading', { name: 'Acme: projects' }).waitFor();
  await screen(page, 'projects');
  await page.getByLabel('Project name').fill('Shop');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: 'Shop', exact: true }).waitFor();
  s.project = page.url().split('/projects/')[1];
  await screen(page, 'project');

  // A table, its fields designed here: one change refused at its field.
  await page.getByLabel('Table name').fill('Tasks');
  await page.getByRole('button', { name: 'Create table' }).click();
  await page.getByRole('heading', { name: 'Table Tasks' }).waitFor();
  s.table = page.url().split('/tables/')[1];
  const add = page.locator('form[aria-labelledby="add-field-heading"]');
  await add.getByLabel('Name', { exact: true }).fill('priority');
  await add.getByLabel('Type', { exact: true }).selectOption('integer');
  await add.getByLabel('Minimum').fill('1');
  await add.getByLabel('Maximum').fill('5');
  await add.getByRole('button', { name: 'Add field' }).click();
  const priority = page.locator('li.field-row[data-field="priority"]');
  await priority.waitFor();
  const first = page.locator('li.field-row[data-field="name"]');
  await first.getByLabel('Type', { exact: true }).selectOption('integer');
  await first.getByRole('button', { name: 'Save field' }).click();
  const refusal = first.locator('[data-error-for="type"]');
  await refusal.waitFor();
  assert((await refusal.textContent()).includes('do not convert'), 'the refused type change shows at the type');
  equal(await first.getByLabel('Type', { exact: true }).getAttribute('aria-invalid'), 'true', 'the type control is marked invalid');
  await screen(page, 'table-designer-refused');
  await first.getByRole('button', { name: 'Revert' }).click();
  await first.getByLabel('Name', { exact: true }).fill('priority');
  await first.getByRole('button', { name: 'Save field' }).click();
  await first.locator('[data-error-for="name"]').waitFor();
  await first.getByLabel('Name', { exact: true }).fill('title');
  await first.getByLabel('Required').check();
  await first.getByRole('button', { name: 'Save field' }).click();
  await page.locator('li.field-row[data-field="title"]').waitFor();
  await screen(page, 'table-designer');
  const table = await call(world, page, 'GET', `/studio/projects/${s.project}/tables/${s.table}`);
  equal(
    table.fields.map((f) => [f.name, f.type, f.required]),
    [
      ['title', 'text', true],
      ['priority', 'integer', false],
    ],
    'the table',
  );

  // A page: drag three components, nest one, reorder with mouse and keys.
  await page.getByRole('link', { name: 'Shop' }).click();
  await page.getByLabel('Page name').fill('Home');
  await page.getByRole('button', { name: 'Create page' }).click();
  await page.getByRole('heading', { name: /^Home/ }).waitFor();
  s.page = page.url().split('/pages/')[1];
  s.editorUrl = page.url();
  const palette = (kind) => page.locator(`button.palette-item[data-component="${kind}"]`);
  const rootList = page.locator('[data-children-of="root"]');

  await drag(page, palette('container'), rootList);
  await until(async () => (await outlineShape(page)) === 'page(container)', 'the container on the page');
  const rootBox = await rootList.boundingBox();
  await drag(page, palette('heading'), { x: rootBox.x + rootBox.width / 2, y: rootBox.y + rootBox.height - 15 });
  await until(async () => (await outlineShape(page)) === 'page(container,heading)', 'the heading after the container');
  const container = await nodeId(page, 'container');
  await drag(page, palette('text'), page.locator(`[data-children-of="${container}"]`));
  await until(async () => (await outlineShape(page)) === 'page(container(text),heading)', 'the text nested in the container');

  // Reorder with the mouse: the heading to the top.
  const heading = await nodeId(page, 'heading');
  const top = await rootList.boundingBox();
  await drag(page, page.locator(`[data-node-id="${heading}"] > .node-bar`), { x: top.x + top.width / 2, y: top.y + 4 });
  await until(async () => (await outlineShape(page)) === 'page(heading,container(text))', 'the heading dragged to the top');

  // Reorder with the keyboard: down, then into the container.
  await selectInOutline(page, heading);
  await page.keyboard.press('Alt+ArrowDown');
  await until(async () => (await outlineShape(page)) === 'page(container(text),heading)', 'the heading moved down by key');
  await page.keyboard.press('Alt+ArrowRight');
  await until(async () => (await outlineShape(page)) === 'page(container(text,heading))', 'the heading moved into the container by key');
  equal(await page.evaluate(() => document.activeElement?.getAttribute('data-node-id')), heading, 'the focus follows the moved node');

  // A keyboard drag from the palette: pick up, arrows to the top slot, drop.
  await palette('divider').focus();
  await page.keyboard.press('Space');
  await sleep(100);
  await page.keyboard.press('ArrowDown');
  for (let i = 0; i < 6; i++) {
    await sleep(60);
    await page.keyboard.press('ArrowUp');
  }
  await sleep(100);
  await page.keyboard.press('Space');
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the divider dropped by keyboard');

  await saved(page);
  await page.reload();
  await page.getByRole('heading', { name: /^Home/ }).waitFor();
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the tree after a reload');
  equal(shape(await pageTree(world, page)), 'page(divider,container(text,heading))', 'the saved tree');
  await selectInOutline(page, heading);
  await screen(page, 'page-editor');
}

// ---------------------------------------------------------------- 2

async function undoAndRedo(world) {
  const page = s.a.page;
  const heading = await nodeId(page, 'heading');
  const undoButton = page.getByRole('button', { name: 'Undo' });
  assert(await undoButton.isDisabled(), 'nothing to undo after a reload');

  // Typing is one step.
  await setContent(page, heading, 'Welcome to the shop');
  equal(await contentField(page).inputValue(), 'Welcome to the shop', 'the typed content');
  await page.keyboard.press(`${mod}+Z`);
  equal(await contentField(page).inputValue(), 'Heading', 'the content after one undo');
  assert(await undoButton.isDisabled(), 'the typing was one step');
  await page.keyboard.press(`Shift+${mod}+Z`);
  equal(await contentField(page).inputValue(), 'Welcome to the shop', 'the content after a redo');

  // A delete and a move, undone and redone from the outline.
  await selectInOutline(page, heading);
  await page.keyboard.press('Delete');
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text))', 'the heading deleted');
  await page.keyboard.press(`${mod}+Z`);
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the delete undone');
  await page.keyboard.press(`Shift+${mod}+Z`);
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text))', 'the delete redone');
  await page.keyboard.press(`${mod}+Z`);
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the delete undone again');
  await selectInOutline(page, heading);
  await page.keyboard.press('Alt+ArrowLeft');
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text),heading)', 'the heading moved out');
  await page.getByRole('button', { name: 'Undo' }).click();
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the move undone by button');
  await page.getByRole('button', { name: 'Redo' }).click();
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text),heading)', 'the move redone by button');
  await page.keyboard.press(`${mod}+Z`);
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the move undone by key');
  // Duplicate and paste, undone.
  await selectInOutline(page, heading);
  await page.keyboard.press(`${mod}+D`);
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading,heading))', 'the heading duplicated');
  const ids = await page.locator('[role="tree"] li[data-component="heading"]').evaluateAll((els) => els.map((e) => e.dataset.nodeId));
  assert(new Set(ids).size === 2, 'the copy has a fresh id');
  await page.keyboard.press(`${mod}+Z`);
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the duplicate undone');

  await saved(page);
  const tree = await pageTree(world, page);
  equal(shape(tree), 'page(divider,container(text,heading))', 'the saved tree');
  equal(tree.children[1].children[1].props.content, 'Welcome to the shop', 'the saved heading');

  // The history list; a restore is one undo away.
  await page.getByRole('button', { name: 'History' }).click();
  const restore = page.getByRole('button', { name: 'Restore version 2' });
  await restore.waitFor();
  await screen(page, 'page-editor-history');
  await restore.click();
  await until(async () => (await outlineShape(page)) === 'page(container)', 'version 2 restored');
  await saved(page);
  equal(shape(await pageTree(world, page)), 'page(container)', 'the restored tree on the server');
  await page.keyboard.press(`${mod}+Z`);
  await until(async () => (await outlineShape(page)) === 'page(divider,container(text,heading))', 'the restore undone');
  await saved(page);
  equal(shape(await pageTree(world, page)), 'page(divider,container(text,heading))', 'the tree after undoing the restore');
  await page.getByRole('button', { name: 'History' }).click();

  // Preview widths.
  await page.getByLabel('Mobile').check();
  equal(await page.getAttribute('.canvas', 'data-width'), '375', 'the mobile width');
  await page.getByLabel('Desktop').check();

  // Copy on one page, paste on another: fresh ids.
  const container = await nodeId(page, 'container');
  const homeIds = await page.locator('[role="tree"] li').evaluateAll((els) => els.map((e) => e.dataset.nodeId));
  await selectInOutline(page, container);
  await page.keyboard.press(`${mod}+C`);
  const about = await call(world, page, 'POST', `/studio/projects/${s.project}/add_page`, { name: 'About', path: '/about' });
  await page.goto(`${world.origin}/studio/projects/${s.project}/pages/${about.id}`);
  await page.getByRole('heading', { name: /^About/ }).waitFor();
  await selectInOutline(page, 'root');
  await page.keyboard.press(`${mod}+V`);
  await until(async () => (await outlineShape(page)) === 'page(container(text,heading))', 'the container pasted on another page');
  const pasted = await page.locator('[role="tree"] li').evaluateAll((els) => els.map((e) => e.dataset.nodeId));
  assert(pasted.slice(1).every((id) => !homeIds.includes(id)), 'pasted nodes have fresh ids');
  await saved(page);
  const aboutTree = (await call(world, page, 'GET', `/studio/projects/${s.project}/pages/${about.id}`)).tree;
  equal(shape(aboutTree), 'page(container(text,heading))', 'the pasted tree saved');
  await page.goto(s.editorUrl);
  await page.getByRole('heading', { name: /^Home/ }).waitFor();
}

// ---------------------------------------------------------------- 3

/** Holds the page saves of a browser until released. */
async function holdSaves(context) {
  let release;
  const gate = new Promise((r) => (release = r));
  let held = 0;
  const pattern = '**/api/v1/studio/projects/*/pages/*';
  const handler = async (route) => {
    if (route.request().method() === 'PATCH') {
      held++;
      await gate;
    }
    await route.continue();
  };
  await context.route(pattern, handler);
  return {
    held: () => held,
    async release() {
      release();
      await sleep(50);
      await context.unroute(pattern, handler);
    },
  };
}

async function staleSaveReplay(world) {
  const pageA = s.a.page;
  await saved(pageA);
  const b = await world.launch();
  const pageB = b.page;
  await pageB.goto(`${world.origin}/studio/signin`);
  await pageB.getByLabel('E-mail').fill(EMAIL);
  await pageB.getByLabel('Password').fill(PASSWORD);
  await pageB.getByRole('button', { name: 'Sign in' }).click();
  await pageB.getByRole('heading', { name: 'Organizations' }).waitFor();
  await pageB.goto(s.editorUrl);
  await pageB.getByRole('heading', { name: /^Home/ }).waitFor();
  const heading = await nodeId(pageA, 'heading');
  const text = await nodeId(pageA, 'text');

  // Different nodes: replayed without a conflict.
  let hold = await holdSaves(s.a.context);
  await setContent(pageA, text, 'Text by A');
  await until(() => hold.held() > 0, "A's save to be sent");
  await setContent(pageB, heading, 'Heading by B');
  await saved(pageB);
  await hold.release();
  await saved(pageA);
  let tree = await pageTree(world, pageA);
  equal([tree.children[1].children[0].props.content, tree.children[1].children[1].props.content], ['Text by A', 'Heading by B'], 'both sides kept');
  equal(await pageA.locator('[data-conflict]').count(), 0, 'no conflict for different nodes');
  await selectInOutline(pageA, heading);
  equal(await contentField(pageA).inputValue(), 'Heading by B', "A shows B's change");

  // B picks up A's save while idle, then both change the same node.
  await until(async () => (await outlineItem(pageB, text).textContent()).includes('Text by A'), "B to pick up A's save", 15_000);
  hold = await holdSaves(s.a.context);
  await setContent(pageA, heading, 'Title by A');
  await until(() => hold.held() > 0, "A's save to be sent");
  await setContent(pageB, heading, 'Title by B');
  await saved(pageB);
  const theirs = (await call(world, pageB, 'GET', `/studio/projects/${s.project}/pages/${s.page}`)).version;
  await hold.release();
  const conflict = pageA.locator(`[data-conflict="${heading}"]`);
  await conflict.waitFor();
  await saved(pageA);
  tree = await pageTree(world, pageA);
  equal(tree.children[1].children[1].props.content, 'Title by A', 'mine kept on a conflict');
  const save = await call(world, pageA, 'GET', `/studio/projects/${s.project}/pages/${s.page}/history/${theirs}`);
  equal(save.tree.children[1].children[1].props.content, 'Title by B', 'theirs kept in the history');
  await screen(pageA, 'page-editor-conflict');
  await conflict.getByRole('button', { name: 'Use their values' }).click();
  await until(async () => (await contentField(pageA).inputValue()) === 'Title by B', 'their value taken');
  await saved(pageA);
  tree = await pageTree(world, pageA);
  equal(tree.children[1].children[1].props.content, 'Title by B', 'their value saved');
  await b.context.close();
}

// ---------------------------------------------------------------- 4

async function recordsGrid(world) {
  const page = s.a.page;
  await page.goto(`${world.origin}/studio/projects/${s.project}/tables/${s.table}/records`);
  await page.getByRole('heading', { name: 'Records of Tasks' }).waitFor();
  await page.getByText('0 records match').waitFor();
  const form = page.locator('form[aria-labelledby="new-record-heading"]');
  await form.getByLabel('title (required)').fill('Write the tests');
  await form.getByLabel('priority').fill('3');
  await form.getByRole('button', { name: 'Add record' }).click();
  await page.getByText('1 records match').waitFor();
  for (const [title, priority] of [
    ['Plan', 1],
    ['Design', 2],
    ['Build', 4],
    ['Review', 5],
    ['Ship', 3],
    ['Celebrate', 5],
  ]) {
    await call(world, page, 'POST', `/runtime/projects/${s.project}/tables/${s.table}/records`, { title, priority });
  }
  await page.reload();
  await page.getByText('7 records match').waitFor();
  await screen(page, 'records-grid');

  const priorities = () => page.locator('tbody td[data-field="priority"]').evaluateAll((els) => els.map((e) => Number(e.textContent)));
  // Filter with the query language; a bad one shows at the filter.
  await page.getByLabel('Filter').fill('priority >= 4');
  await page.getByRole('button', { name: 'Apply filter' }).click();
  await page.getByText('3 records match').waitFor();
  assert((await priorities()).every((p) => p >= 4), 'the filter holds');
  await page.getByLabel('Filter').fill("priority >= 'x'");
  await page.getByRole('button', { name: 'Apply filter' }).click();
  await page.locator('#filter-error').waitFor();
  equal(await page.getByLabel('Filter').getAttribute('aria-invalid'), 'true', 'the filter is marked invalid');
  await page.getByLabel('Filter').fill('');
  await page.getByRole('button', { name: 'Apply filter' }).click();
  await page.getByText('7 records match').waitFor();

  // Sort by a column, both ways.
  await page.getByRole('button', { name: 'Sort by priority' }).click();
  await until(async () => (await page.locator('th[aria-sort="ascending"]').count()) === 1, 'the ascending sort');
  await until(async () => JSON.stringify(await priorities()) === JSON.stringify([1, 2, 3, 3, 4, 5, 5]), 'rows in ascending order');
  await page.getByRole('button', { name: 'Sort by priority' }).click();
  await until(async () => JSON.stringify(await priorities()) === JSON.stringify([5, 5, 4, 3, 3, 2, 1]), 'rows in descending order');

  // Page with the cursor.
  await page.getByLabel('Rows per page').selectOption('5');
  await until(async () => (await priorities()).length === 5, 'a page of five');
  await page.getByRole('button', { name: 'Next page' }).click();
  await until(async () => JSON.stringify(await priorities()) === JSON.stringify([2, 1]), 'the second page');
  await page.getByRole('button', { name: 'Previous page' }).click();
  await until(async () => (await priorities()).length === 5, 'back on the first page');

  // Edit in place; a refused value shows at its cell.
  const row = page.locator('tbody tr').first();
  const id = await row.getAttribute('data-record');
  await row.locator('td[data-field="title"] button').click();
  const titleInput = row.locator('td[data-field="title"] input');
  await titleInput.fill('Ship it');
  await titleInput.press('Enter');
  await until(async () => (await row.locator('td[data-field="title"]').textContent()) === 'Ship it', 'the edited title');
  const record = await call(world, page, 'GET', `/runtime/projects/${s.project}/tables/${s.table}/records/${id}`);
  equal(record.title, 'Ship it', 'the saved title');
  await row.locator('td[data-field="priority"] button').click();
  const priorityInput = row.locator('td[data-field="priority"] input');
  await priorityInput.fill('99');
  await priorityInput.press('Enter');
  const error = row.locator('td[data-field="priority"] .error');
  await error.waitFor();
  equal(await priorityInput.getAttribute('aria-invalid'), 'true', 'the refused cell is marked invalid');
  await screen(page, 'records-grid-refused');
  await priorityInput.press('Escape');
  await until(async () => (await error.count()) === 0, 'the edit cancelled');
  const after = await call(world, page, 'GET', `/runtime/projects/${s.project}/tables/${s.table}/records/${id}`);
  equal(after.priority, record.priority, 'the refused value was not saved');
}

export const scenarios = [
  ['sign up, organization, project, table, page built by mouse and keyboard, kept across a reload', buildAPage],
  ['undo and redo over every edit, typing coalesced; history and restore', undoAndRedo],
  ['a stale save (412) replayed, with two browser contexts; a conflict keeps both sides', staleSaveReplay],
  ['records grid: filter, sort, cursor pages, inline edit and a refused value', recordsGrid],
];
