// The screens in headless Chromium (run by tests/screens.rs; docs/screens.md).
// Env: BASE_URL, REP_ID, COMPANY_ID, SALES_LOGIN, SALES_PASSWORD, ADMIN_LOGIN, ADMIN_PASSWORD,
// SCREENS_DIR (where the screenshots go). Waits only for DOM conditions; never sleeps.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const BASE = env('BASE_URL');
const REP = env('REP_ID');
const SHOTS = env('SCREENS_DIR');
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Playwright gives every launch a fresh temporary --user-data-dir of its own.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const mobile = { viewport: { width: 390, height: 780 }, deviceScaleFactor: 1, locale: 'zh-CN', isMobile: true, hasTouch: true };
const desktop = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, locale: 'zh-CN' };
const TIMEOUT = 15000;
const WEIGHT_BUDGET = 150 * 1024; // docs/screens.md

const step = (s) => console.log(`step: ${s}`);
const shot = async (page, name) => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  console.log(`screenshot: ${join(SHOTS, `${name}.png`)}`);
};

/** Opens a console page from its menu and waits until that page's shell is mounted: the old
 * page stays on screen until the hash change is routed, so a locator run right after the click
 * could still match the old page's elements. */
async function menu(page, key) {
  await page.click(`a[data-menu="${key}"]`);
  await page.locator(`a[data-menu="${key}"].active`).waitFor();
}

/** Page weight and first paint of the page just loaded (Performance API). */
async function perf(page, name) {
  await page.waitForFunction(() => performance.getEntriesByType('paint').some((p) => p.name === 'first-contentful-paint'), null, { timeout: TIMEOUT });
  const m = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').filter((r) => !r.name.includes('/zhugeleida/'));
    const paint = Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, Math.round(p.startTime)]));
    const bytes = (e) => e.encodedBodySize || e.transferSize || 0;
    return {
      documents_and_assets: 1 + res.length,
      weight_bytes: bytes(nav) + res.reduce((n, r) => n + bytes(r), 0),
      decoded_bytes: nav.decodedBodySize + res.reduce((n, r) => n + (r.decodedBodySize || 0), 0),
      first_paint_ms: paint['first-paint'],
      first_contentful_paint_ms: paint['first-contentful-paint'],
      dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
    };
  });
  console.log(`perf ${name} ${JSON.stringify(m)}`);
  // The weight budget of docs/screens.md (bytes are deterministic; paint times are only reported).
  if (m.weight_bytes > WEIGHT_BUDGET) throw new Error(`${name} weighs ${m.weight_bytes} bytes, over the ${WEIGHT_BUDGET} budget`);
  return m;
}

/** Asks tests/screens.rs to do something to the server and waits until it is done. */
async function control(cmd) {
  const done = new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.resume(); // a stream paused explicitly stays paused when a listener is added
  console.log(`control: ${cmd}`);
  const answer = await done;
  process.stdin.pause();
  return String(answer).trim();
}

const pageErrors = [];
const failed = [];
function watch(page, who) {
  page.on('pageerror', (e) => {
    pageErrors.push(`${who}: ${e.message}`);
    console.log(`pageerror ${who}: ${e.message}`);
  });
  page.on('console', (m) => m.type() === 'error' && console.log(`console.error ${who}: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && console.log(`http ${r.status()} ${who}: ${r.url()}`));
}

try {
  // ---- the salesperson signs in and keeps the workspace open ----
  step('salesperson signs in');
  const repCtx = await browser.newContext(mobile);
  const rep = await repCtx.newPage();
  rep.setDefaultTimeout(TIMEOUT);
  watch(rep, 'workspace');
  await rep.goto(`${BASE}/h5/`);
  await perf(rep, 'h5-login');
  await rep.fill('#login-user', env('SALES_LOGIN'));
  await rep.fill('#login-pass', env('SALES_PASSWORD'));
  await rep.click('#login-submit');
  await rep.locator('#feed').waitFor();
  await rep.locator('#conn[data-state="open"]').waitFor({ state: 'attached' });
  const feed = (text) => rep.locator('#feed li', { hasText: text }).first().waitFor();

  // ---- a customer opens the card in another browser context ----
  step('customer opens the card');
  const custCtx = await browser.newContext(mobile);
  const cust = await custCtx.newPage();
  cust.setDefaultTimeout(TIMEOUT);
  watch(cust, 'customer');
  await cust.goto(`${BASE}/c/?uid=${REP}&code=sandbox-o_browser.${Date.now()}`);
  await cust.locator('#card-name').waitFor();
  await perf(cust, 'c-card');
  await feed('查看你的名片');
  console.log('workspace shows: card view');

  step('customer praises the card');
  await cust.click('#praise');
  await cust.locator('#praise', { hasText: '已觉得靠谱' }).waitFor();
  await feed('靠谱');
  console.log('workspace shows: praise');
  await shot(cust, 'customer-card');

  step('customer opens a product');
  await cust.click('a[href="#/products"]');
  await cust.locator('#products .p').first().waitFor();
  await shot(cust, 'customer-products');
  await cust.locator('#products .p').first().click();
  await cust.locator('#product-name').waitFor();
  await rep.locator('#feed li[data-action="2"]').first().waitFor();
  console.log('workspace shows: product view');
  await shot(cust, 'customer-product');

  step('customer opens the website');
  await cust.click('a[href="#/website"]');
  await cust.locator('.content img').first().waitFor();
  await rep.locator('#feed li[data-action="4"]').first().waitFor();
  console.log('workspace shows: website view');
  await shot(cust, 'customer-website');

  step('customer sends a chat message');
  const ask = `你好,想了解旗舰版的价格 #${Date.now() % 100000}`;
  await cust.click('a[href="#/chat"]');
  await cust.locator('#chat-input').waitFor();
  await cust.fill('#chat-input', ask);
  await cust.click('#chat-send');
  await cust.locator('#msgs .bubble.mine', { hasText: ask }).waitFor();
  await shot(rep, 'workspace-radar');

  step('the workspace shows the message without a reload');
  await rep.locator('#badge-msg[data-n="1"]').waitFor({ state: 'attached' });
  await rep.click('a[href="#/messages"]');
  await rep.locator('#contacts li', { hasText: ask }).first().waitFor();
  await shot(rep, 'workspace-messages');
  await rep.locator('#contacts li', { hasText: ask }).first().click();
  await rep.locator('#msgs .bubble', { hasText: ask }).waitFor();
  console.log('workspace shows: the message');

  step('the salesperson answers; the customer sees it live');
  const answer = `您好!旗舰版 2980 元/年,我给您发一份资料 #${Date.now() % 100000}`;
  await rep.fill('#chat-input', answer);
  await rep.click('#chat-send');
  await rep.locator('#msgs .bubble.mine', { hasText: answer }).waitFor();
  await cust.locator('#msgs .bubble:not(.mine)', { hasText: answer }).waitFor();
  console.log('customer shows: the answer');
  await shot(rep, 'workspace-chat');
  await shot(cust, 'customer-chat');

  step('a reload of the workspace resumes without losing or repeating a message');
  await rep.reload();
  await rep.locator('#msgs .bubble', { hasText: answer }).waitFor();
  const counts = await rep.evaluate(([a, b]) => {
    const all = [...document.querySelectorAll('#msgs .bubble')].map((e) => e.textContent);
    return [all.filter((t) => t.includes(a)).length, all.filter((t) => t.includes(b)).length];
  }, [ask, answer]);
  if (counts[0] !== 1 || counts[1] !== 1) throw new Error(`after reload the messages show ${counts} times`);
  const follow = `客户已读,追加一条 #${Date.now() % 100000}`;
  await rep.locator('#conn[data-state="open"]').waitFor({ state: 'attached' });
  await rep.fill('#chat-input', follow);
  await rep.click('#chat-send');
  await cust.locator('#msgs .bubble:not(.mine)', { hasText: follow }).waitFor();
  console.log('after reload: live again');

  step('the server restarts; the pages reconnect and resume; a reload shows every message once');
  await control('restart-server');
  const late = `重启后的第一条消息 #${Date.now() % 100000}`;
  await cust.fill('#chat-input', late);
  await cust.click('#chat-send');
  await cust.locator('#msgs .bubble.mine', { hasText: late }).waitFor();
  await rep.locator('#msgs .bubble', { hasText: late }).waitFor();
  await rep.locator('#conn[data-state="open"]').waitFor({ state: 'attached' });
  console.log('after restart: the workspace shows the new message live');
  await rep.reload();
  await rep.locator('#msgs .bubble', { hasText: late }).waitFor();
  const once = await rep.evaluate((texts) => {
    const all = [...document.querySelectorAll('#msgs .bubble')].map((e) => e.textContent);
    return texts.map((t) => all.filter((x) => x.includes(t)).length);
  }, [ask, answer, follow, late]);
  if (once.some((n) => n !== 1)) throw new Error(`after restart and reload the messages show ${once} times`);
  const after = `重启后销售的回复 #${Date.now() % 100000}`;
  await rep.locator('#conn[data-state="open"]').waitFor({ state: 'attached' });
  await rep.fill('#chat-input', after);
  await rep.click('#chat-send');
  await cust.locator('#msgs .bubble:not(.mine)', { hasText: after }).waitFor();
  const custOnce = await cust.evaluate((texts) => {
    const all = [...document.querySelectorAll('#msgs .bubble')].map((e) => e.textContent);
    return texts.map((t) => all.filter((x) => x.includes(t)).length);
  }, [ask, answer, follow, late, after]);
  if (custOnce.some((n) => n !== 1)) throw new Error(`the customer's chat shows the messages ${custOnce} times`);
  console.log('after restart and reload: nothing lost, nothing repeated, both ways');

  step('the customer story and the contacts');
  const customerId = await rep.evaluate(() => location.hash.split('/')[2]);
  await rep.goto(`${BASE}/h5/#/customer/${customerId}`);
  await rep.locator('#ai-pr').waitFor();
  await rep.fill('#follow-text', '电话沟通,客户对旗舰版感兴趣');
  await rep.locator('#follow-text ~ button').click();
  await rep.locator('li', { hasText: '电话沟通,客户对旗舰版感兴趣' }).first().waitFor();
  await shot(rep, 'workspace-customer');
  await rep.click('a[href="#/customers"]');
  await rep.locator('#customers li[data-customer]').first().waitFor();
  await shot(rep, 'workspace-customers');
  await rep.click('a[href="#/card"]');
  await rep.locator('.hero h1').waitFor();
  await shot(rep, 'workspace-card');

  // ---- the admin console ----
  step('admin signs in to the console; the dashboard chart is drawn');
  const admCtx = await browser.newContext(desktop);
  const adm = await admCtx.newPage();
  adm.setDefaultTimeout(TIMEOUT);
  watch(adm, 'console');
  await adm.goto(`${BASE}/console/`);
  await perf(adm, 'console-login');
  await adm.fill('#login-user', env('ADMIN_LOGIN'));
  await adm.fill('#login-pass', env('ADMIN_PASSWORD'));
  await adm.click('#login-submit');
  await adm.locator('#chart svg path.line').waitFor({ state: 'attached' });
  const points = await adm.locator('#chart svg circle.point').count();
  if (points !== 7) throw new Error(`the 7-day chart has ${points} points`);
  console.log('console shows: dashboard chart drawn');
  await adm.selectOption('#index-type', '3');
  await adm.locator('#chart svg', { hasText: '浏览总数' }).waitFor();
  await shot(adm, 'console-home');

  step('every error shows the server msg');
  await menu(adm, 'products');
  await adm.locator('#product-save').waitFor();
  await adm.click('#product-save');
  await adm.locator('#error:not(:empty)').waitFor();
  console.log(`console shows the server's msg: ${await adm.locator('#error').textContent()}`);

  step('admin uploads an image and creates a product with it');
  await adm.setInputFiles('#product-image', env('UPLOAD_PNG'));
  await adm.locator('#image-preview img').waitFor();
  const uploaded = await adm.locator('#image-preview img').getAttribute('data-path');
  const productName = `新品体验装 ${Date.now() % 100000}`;
  await adm.fill('#product-name', productName);
  await adm.fill('#product-price', '99');
  await adm.fill('#product-reason', '限时体验');
  await adm.fill('#product-text', '新品上市,欢迎咨询。');
  await adm.click('#product-save');
  await adm.locator('td', { hasText: productName }).waitFor();

  step("the customer's page shows the new product with its image");
  await cust.goto(`${BASE}/c/?uid=${REP}#/products`);
  const card = cust.locator('#products .p', { hasText: productName });
  await card.waitFor();
  const src = await card.locator('img').getAttribute('src');
  if (src !== `/${uploaded}`) throw new Error(`product image ${src}, uploaded ${uploaded}`);
  await cust.waitForFunction((name) => {
    const img = [...document.querySelectorAll('#products .p')].find((p) => p.textContent.includes(name))?.querySelector('img');
    return img && img.complete && img.naturalWidth > 0;
  }, productName);
  console.log('customer shows: the new product and its image');
  await shot(cust, 'customer-products-new');

  step('admin edits the product (ADM-12/14); feedback is listed');
  await adm.locator('tr', { hasText: productName }).locator('.edit').click();
  await adm.waitForFunction((name) => document.querySelector('#product-name').value === name && document.querySelector('#image-preview img'), productName);
  await adm.fill('#product-price', '199');
  await adm.click('#product-save');
  await adm.locator('tr', { hasText: productName }).locator('td', { hasText: /^199$/ }).waitFor();
  await adm.locator('#feedback table').waitFor();
  await shot(adm, 'console-products');

  step('console pages');
  for (const [key, wait, name] of [['users', 'table', 'console-users'], ['roles', '#access-rules table', 'console-roles']]) {
    await menu(adm, key);
    await adm.locator(`main ${wait}`).first().waitFor();
    await shot(adm, name);
  }
  step('website templates: the current website saved as a template');
  await menu(adm, 'website');
  await adm.locator('#templates table').waitFor();
  const tpl = `春季模板${Date.now() % 100000}`;
  await adm.fill('#template-name', tpl);
  await adm.click('#template-save');
  await adm.locator('#templates td', { hasText: tpl }).waitFor();
  await shot(adm, 'console-website');
  await menu(adm, 'temp');
  await adm.click('#signup-qr');
  await adm.locator('img[alt="注册二维码"]').waitFor();

  step('a new employee scans the sign-up QR, registers; the admin approves');
  const signupUrl = await control(`decode-qr ${await adm.locator('img[alt="注册二维码"]').getAttribute('src')}`);
  console.log(`sign-up QR: ${signupUrl}`);
  const empCtx = await browser.newContext(mobile);
  const emp = await empCtx.newPage();
  emp.setDefaultTimeout(TIMEOUT);
  watch(emp, 'employee');
  await emp.goto(signupUrl);
  const newbie = `新同事${Date.now() % 100000}`;
  await emp.fill('#signup-username', newbie);
  await emp.fill('#signup-position', '销售顾问');
  await emp.fill('#signup-wechat', 'wx_newbie');
  await emp.fill('#signup-wechat-phone', '13800000001');
  await emp.click('#signup-submit');
  await emp.locator('#signup-error:not(:empty)').waitFor();
  console.log(`sign-up page shows the server's msg: ${await emp.locator('#signup-error').textContent()}`);
  await emp.fill('#signup-mingpian-phone', '13800000001');
  await emp.click('#signup-submit');
  await emp.locator('#signup-done').waitFor();
  await shot(emp, 'signup-done');
  await menu(adm, 'home');
  await menu(adm, 'temp');
  const pending = adm.locator('tr', { hasText: newbie });
  await pending.locator('input[type="checkbox"]').check();
  await shot(adm, 'console-temp-users');
  await adm.click('#approve');
  await pending.waitFor({ state: 'detached' });
  await menu(adm, 'users');
  await adm.locator('td', { hasText: newbie }).waitFor();
  console.log('console shows: the new employee approved into the users');

  // ---- articles, talk scripts and edit forms in the console ----
  const n = Date.now() % 100000;
  step('admin adds an article tag');
  await menu(adm, 'article_tags');
  await adm.locator('#tag-save').waitFor();
  const tagName = `行业洞察${n}`;
  await adm.fill('#tag-name', tagName);
  await adm.click('#tag-save');
  await adm.locator('td', { hasText: tagName }).waitFor();

  step('admin writes an article (the server msg on an empty one), edits and publishes it');
  await menu(adm, 'articles');
  await adm.locator('#article-tags label', { hasText: tagName }).waitFor();
  await adm.click('#article-save');
  await adm.locator('#error:not(:empty)').waitFor();
  console.log(`console shows the server's msg: ${await adm.locator('#error').textContent()}`);
  await adm.setInputFiles('#article-image', env('UPLOAD_PNG'));
  await adm.locator('#article-preview img').waitFor();
  const draft = `销售团队如何用雷达跟进客户 ${n}`;
  await adm.fill('#article-title', draft);
  await adm.fill('#article-summary', '三个真实场景,看懂客户兴趣。');
  await adm.fill('#article-text', '客户打开名片、产品和文章的每一次动作,都会实时出现在销售的雷达上。\n\n读得越久、转发越多,AI 成交率越高。');
  await adm.locator('#article-tags label', { hasText: tagName }).locator('input').check();
  await adm.click('#article-save');
  const draftRow = adm.locator('tr', { hasText: draft });
  await draftRow.locator('.status', { hasText: '未发' }).waitFor();
  await draftRow.locator('.edit').click();
  await adm.waitForFunction((t) => document.querySelector('#article-title').value === t && document.querySelector('#article-text').value.includes('雷达'), draft);
  const title = `${draft}(修订)`;
  await adm.fill('#article-title', title);
  await adm.click('#article-save');
  const row = adm.locator('tr', { hasText: title });
  await row.waitFor();
  await row.locator('.publish').click();
  await row.locator('.status', { hasText: '已发' }).waitFor();
  await shot(adm, 'console-articles');

  step('admin adds a talk group and a phrase');
  await menu(adm, 'talk');
  await adm.locator('#talk-group-save').waitFor();
  const group = `开场白${n}`;
  await adm.fill('#talk-group-name', group);
  await adm.click('#talk-group-save');
  await adm.locator('#talk-groups td', { hasText: group }).waitFor();
  await adm.selectOption('#talk-group', { label: group });
  const phrase = `您好,我把旗舰版的案例手册发您看看 #${n}`;
  await adm.fill('#talk-words', phrase);
  await adm.click('#talk-phrase-save');
  await adm.locator('#talk-phrases td', { hasText: phrase }).waitFor();
  await shot(adm, 'console-talk');

  step('edit forms: a role, the official-account page, backend accounts; a refusal keeps the session');
  await menu(adm, 'companies');
  await adm.locator('main .edit').first().click();
  await adm.waitForFunction(() => document.querySelector('#company-name').value !== '');
  await adm.click('#company-save');
  await adm.locator('#error:not(:empty)').waitFor();
  console.log(`a company admin may not edit companies: ${await adm.locator('#error').textContent()}`);
  await menu(adm, 'roles');
  await adm.locator('#role-rules input').first().waitFor();
  const role = `临时角色${n}`;
  await adm.fill('#role-name', role);
  await adm.locator('#role-rules input').first().check();
  await adm.click('#role-save');
  await adm.locator('tr', { hasText: role }).locator('.edit').click();
  await adm.waitForFunction((r) => document.querySelector('#role-name').value === r, role);
  await adm.fill('#role-name', `${role}改`);
  await adm.click('#role-save');
  await adm.locator('td', { hasText: `${role}改` }).waitFor();
  await menu(adm, 'accounts');
  await adm.locator('main table').waitFor();
  await shot(adm, 'console-accounts');
  await menu(adm, 'gzh');
  await adm.locator('#gzh-step').waitFor();
  await shot(adm, 'console-gzh');

  // ---- the article in the official account, on the salesperson's radar ----
  step('the salesperson shares the published article');
  await rep.click('a[href="#/radar"]');
  await rep.locator('#feed').waitFor();
  await rep.click('a[href="#/card"]');
  const art = rep.locator('#articles li', { hasText: title });
  await art.waitFor();
  const articleId = await art.getAttribute('data-article');
  await art.locator('.share-article').click();
  const shareUrl = await art.locator('a.share-link').getAttribute('href');
  console.log(`share link: ${shareUrl}`);
  await rep.click('a[href="#/radar"]');
  await rep.locator('#feed').waitFor();

  step('a reader opens it through WeChat (sandbox OAuth, consent, GZH-07) and reads it');
  const reader = async (openid, who) => {
    const ctx = await browser.newContext(mobile);
    await ctx.addCookies([{ name: 'sandbox_user', value: openid, url: env('SANDBOX_URL') }]);
    const page = await ctx.newPage();
    page.setDefaultTimeout(TIMEOUT);
    watch(page, who);
    return page;
  };
  const r1 = await reader('o_carol', 'reader1');
  await r1.goto(shareUrl);
  await r1.locator('#article-title', { hasText: title }).waitFor();
  await perf(r1, 'article');
  await rep.locator('#feed li[data-kind="article"][data-event="read"]', { hasText: 'Carol' }).first().waitFor();
  console.log('workspace shows: the article read, live');
  await shot(r1, 'customer-article');
  await shot(rep, 'workspace-radar-article');

  step('the reader forwards it; the radar shows the forward');
  await r1.click('#share-friend');
  await r1.locator('#share-link').waitFor();
  const share2 = await r1.locator('#share-link').getAttribute('href');
  await rep.locator('#feed li[data-event="forward"]', { hasText: 'Carol' }).first().waitFor();
  console.log('workspace shows: the forward');

  step('the influence view is open; a second-level reader appears live');
  await rep.goto(`${BASE}/h5/#/article/${articleId}`);
  await rep.locator('#readers li[data-customer]', { hasText: 'Carol' }).waitFor();
  const r2 = await reader('o_bob', 'reader2');
  await r2.goto(share2);
  await r2.locator('#article-title', { hasText: title }).waitFor();
  await rep.locator('#tree li[data-level="2"]', { hasText: 'Bob' }).waitFor();
  console.log('influence shows: Bob at level 2, live');

  step('the reader leaves the page; the reading time reaches the influence view');
  await r1.goto('about:blank');
  await rep.locator('#readers li[data-customer]:not([data-stay="0"])', { hasText: 'Carol' }).waitFor();
  await rep.locator('#top-spreaders li[data-customer]', { hasText: 'Carol' }).waitFor();
  console.log('influence shows: the reading time and the top spreader');
  await shot(rep, 'workspace-article');

  step('the salesperson sends a talk-script phrase in the chat; the customer sees it');
  await cust.goto(`${BASE}/c/?uid=${REP}#/chat`);
  await cust.locator('#chat-input').waitFor();
  await rep.goto(`${BASE}/h5/#/chat/${customerId}`);
  await rep.locator('#chat-input').waitFor();
  await rep.locator('#conn[data-state="open"]').waitFor({ state: 'attached' });
  await rep.click('#talk-open');
  await rep.fill('#talk-search', `#${n}`);
  const talkRow = rep.locator('#talk-list li', { hasText: phrase });
  await talkRow.waitFor();
  await shot(rep, 'workspace-talk');
  await talkRow.locator('.talk-send').click();
  await rep.locator('#msgs .bubble.mine', { hasText: phrase }).waitFor();
  await cust.locator('#msgs .bubble:not(.mine)', { hasText: phrase }).waitFor();
  console.log('customer shows: the talk-script phrase');

  step('the operator opens the batch release page');
  const opCtx = await browser.newContext(desktop);
  const op = await opCtx.newPage();
  op.setDefaultTimeout(TIMEOUT);
  watch(op, 'operator');
  await op.goto(`${BASE}/console/#/release`);
  await op.fill('#login-user', env('OPERATOR_LOGIN'));
  await op.fill('#login-pass', env('OPERATOR_PASSWORD'));
  await op.click('#login-submit');
  await op.locator('#template').waitFor();
  await op.locator('main table').waitFor();
  await shot(op, 'console-release');

  step('the operator edits a company (billing: card quota)');
  await menu(op, 'companies');
  await op.locator('main .edit').first().click();
  await op.waitForFunction(() => document.querySelector('#company-name').value !== '');
  await op.fill('#company-quota', '88');
  await op.click('#company-save');
  await op.locator('.quota', { hasText: '/88' }).first().waitFor();
  await shot(op, 'console-companies');

  if (pageErrors.length) throw new Error(`page errors:\n${pageErrors.join('\n')}`);
  console.log('scenario passed');
} catch (e) {
  console.error(e);
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    const text = await p.evaluate(() => document.body.innerText).catch(() => '?');
    console.error(`--- page ${i} ${p.url()}\n${text.slice(0, 1500)}`);
    await p.screenshot({ path: `/tmp/zgld-fail-${i}.png` }).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
