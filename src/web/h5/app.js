// The salesperson's workspace (/h5/): radar feed, customers (通讯录), a customer's story,
// chat, the card. Only the public API and the WebSocket (docs/screens.md).
import { Client, Socket, fileUrl } from '/web/zgld.js';
import { h, $, mount, avatar, toast, attempt, when, param } from '/web/ui.js';

const Q = '/zhugeleida/qiyeweixin';
const A = '/zhugeleida/admin';
const api = new Client({ storageKey: 'zgld.h5', probe: '/zhugeleida/admin/login_rules' });
const app = $('#app');

// Live state shared by the views.
const state = {
  ws: null,
  conn: 'connecting',
  radar: [], // newest first: {id, customer_id, customer__username, headimgurl, log, ai_pr, create_date, action_name}
  radarBadge: 0,
  conv: new Map(), // conversation_id -> {conversation_id, peer_id, last_seq, unread}
  convOf: new Map(), // customer_id -> conversation_id
  view: null, // {name, id, onMessage, onTyping}
};

function unreadTotal() {
  let n = 0;
  for (const c of state.conv.values()) n += c.unread || 0;
  return n;
}

function setBadge(el, n) {
  if (!el) return;
  el.textContent = n > 0 ? String(n) : '';
  el.dataset.n = String(n);
}

function refreshBadges() {
  setBadge($('#badge-radar'), state.radarBadge);
  setBadge($('#badge-msg'), unreadTotal());
}

// ---------- sign-in ----------

async function signIn() {
  const code = param('code');
  const company = param('company_id');
  if (code && company && !api.signedIn) {
    const ok = await attempt(() => api.loginWecom(company, code));
    history.replaceState(null, '', location.pathname + location.hash);
    if (ok) return start();
  }
  if (api.signedIn) return start();
  const err = h('div.err');
  const user = h('input#login-user', { placeholder: '登录名', autocomplete: 'username' });
  const pass = h('input#login-pass', { type: 'password', placeholder: '密码', autocomplete: 'current-password' });
  const form = h('form.login', {
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        await api.loginPassword(user.value.trim(), pass.value);
        start();
      } catch (x) {
        err.textContent = x.message;
      }
    },
  },
  h('h1', '诸葛雷达 · 销售工作台'),
  h('p.muted', '企业微信内打开会自动登录;也可用账号密码登录。'),
  h('label', user), h('label', pass), err,
  h('button#login-submit', { type: 'submit' }, '登录'));
  mount(app, form);
}

api.addEventListener('expired', () => {
  if (state.ws) state.ws.stop();
  state.ws = null;
  api.signOut();
  toast('登录已失效,请重新登录', 'error');
  signIn();
});

// ---------- live connection ----------

function start() {
  if (!state.ws) {
    const ws = new Socket(api, `${Q}/ws`, { radar: true });
    state.ws = ws;
    ws.on('state', (s) => {
      state.conn = s;
      const el = $('#conn');
      if (el) {
        el.dataset.state = s;
        el.textContent = s === 'open' ? '已连接' : '连接中断,正在重连…';
      }
    });
    ws.on('expired', () => api.dispatchEvent(new CustomEvent('expired')));
    ws.on('replaced', () => toast('此账号在太多设备上打开,本页已停止实时更新', 'error'));
    ws.on('hello', (f) => {
      for (const c of f.conversations || []) {
        state.conv.set(c.conversation_id, { ...c });
        state.convOf.set(c.peer_id, c.conversation_id);
      }
      refreshBadges();
    });
    ws.on('unread', (f) => {
      const c = state.conv.get(f.conversation_id);
      if (c) c.unread = f.unread;
      refreshBadges();
    });
    ws.on('radar', (ev) => {
      if (ev.kind !== 'article' && state.radar.some((r) => r.kind !== 'article' && r.id && r.id === ev.id)) return;
      state.radar.unshift(ev);
      state.radar.length = Math.min(state.radar.length, 200);
      if (!(state.view && state.view.name === 'radar')) state.radarBadge += 1;
      refreshBadges();
      if (state.view && state.view.onRadar) state.view.onRadar(ev);
    });
    ws.on('message', (m) => {
      let c = state.conv.get(m.conversation_id);
      if (!c) {
        c = { conversation_id: m.conversation_id, peer_id: m.customer_id, last_seq: 0, unread: 0 };
        state.conv.set(m.conversation_id, c);
        state.convOf.set(m.customer_id, m.conversation_id);
      }
      c.last_seq = Math.max(c.last_seq || 0, m.seq);
      const open = state.view && state.view.name === 'chat' && state.view.id === m.customer_id;
      if (m.send_type === 2 && !open) c.unread = (c.unread || 0) + 1;
      refreshBadges();
      if (state.view && state.view.onMessage) state.view.onMessage(m);
    });
    ws.on('typing', (f) => state.view && state.view.onTyping && state.view.onTyping(f));
    ws.on('reload', (f) => state.view && state.view.onReload && state.view.onReload(f));
    ws.on('radar_reload', () => state.view && state.view.name === 'radar' && route());
    ws.on('error', (f) => toast(f.msg || '发送失败', 'error'));
  }
  window.onhashchange = route;
  route();
}

// ---------- shell ----------

function shell(title, body, { back } = {}) {
  const tab = (hash, label, badgeId) =>
    h('a', { href: hash, class: location.hash.startsWith(hash) ? 'active' : '' }, label, badgeId ? h('span.badge', { id: badgeId }) : null);
  mount(app,
    h('header.m-head', back ? h('a', { href: back }, '‹ 返回') : null, h('h1.grow', title),
      h('button#logout', { onclick: () => { state.ws && state.ws.stop(); state.ws = null; api.signOut(); signIn(); } }, '退出')),
    h('div#conn.conn', { dataset: { state: state.conn } }, state.conn === 'open' ? '已连接' : '连接中…'),
    body,
    h('nav.tabs', tab('#/radar', '雷达', 'badge-radar'), tab('#/customers', '客户'), tab('#/messages', '消息', 'badge-msg'), tab('#/card', '名片')));
  refreshBadges();
}

function route() {
  const [, name = 'radar', id] = (location.hash || '#/radar').split('/');
  const n = Number(id);
  state.view = { name, id: n };
  const views = { radar: radarView, customers: customersView, customer: customerView, messages: messagesView, chat: chatView, card: cardView, article: articleView };
  (views[name] || radarView)(n);
}

// ---------- radar feed ----------

function radarItem(ev, fresh) {
  const article = ev.kind === 'article';
  const open = () => (location.hash = article ? `#/article/${ev.article_id}` : `#/customer/${ev.customer_id}`);
  return h('li', { class: fresh ? 'new' : '', dataset: { action: ev.action || '', kind: ev.kind || 'card', event: ev.article_event || '', customer: ev.customer_id }, onclick: open },
    avatar(ev.headimgurl),
    h('div.grow',
      ev.customer__username ? h('b.who', ev.customer__username) : null,
      h('div.log', ev.log),
      h('div.muted', when(ev.create_date), ev.action_name ? ` · ${ev.action_name}` : '')),
    ev.ai_pr !== undefined && ev.ai_pr !== null ? h('div', h('div.muted', 'AI成交率'), h('div.rate.ai', `${ev.ai_pr}%`)) : null);
}

async function radarView() {
  state.radarBadge = 0;
  const list = h('ul.list.feed#feed');
  shell('客户雷达', h('div', h('div.card.muted', '客户每次查看名片、产品、官网,转发、点赞、拨打电话,都会实时出现在这里。'), list));
  const paint = () => mount(list, state.radar.length ? state.radar.map((e) => radarItem(e, false)) : h('li.muted', '暂无客户动态'));
  if (!state.radarLoaded) {
    const d = await attempt(() => api.get(`${Q}/action/time`, { current_page: 1, length: 30 }));
    if (d) {
      // Older history (QYW-37) below whatever arrived live meanwhile.
      const live = new Set(state.radar.map((e) => `${e.customer_id}|${e.create_date}|${e.log}`));
      for (const r of d.ret_data) if (!live.has(`${r.customer_id}|${r.create_date}|${r.log}`)) state.radar.push(r);
      state.radarLoaded = true;
    }
  }
  paint();
  state.view.onRadar = (ev) => {
    if (list.querySelector('li.muted')) list.replaceChildren();
    list.prepend(radarItem(ev, true));
  };
}

// ---------- customers (通讯录) ----------

async function customersView() {
  const order = h('select#order', {}, h('option', { value: 'expedted_pr' }, '按预计成交率'), h('option', { value: 'last_follow_time' }, '按最后跟进'), h('option', { value: 'last_activity_time' }, '按最后活动'));
  const source = h('select#source', {}, h('option', { value: '' }, '全部来源'), h('option', { value: '1' }, '扫码'), h('option', { value: '2' }, '转发'));
  order.value = sessionStorage.getItem('h5.order') || 'expedted_pr';
  const list = h('ul.list#customers');
  const load = async () => {
    sessionStorage.setItem('h5.order', order.value);
    const d = await attempt(() => api.get(`${Q}/tongxunlu`, { order: order.value, customer__source: source.value || undefined, current_page: 1, length: 100 }));
    if (!d) return;
    mount(list, d.ret_data.length ? d.ret_data.map((c) => h('li', { dataset: { customer: c.customer_id }, onclick: () => (location.hash = `#/customer/${c.customer_id}`) },
      avatar(c.headimgurl),
      h('div.grow', h('div', c.customer_username || `客户${c.customer_id}`), h('div.muted', `跟进: ${c.follow_status || '—'} · 活动: ${c.last_activity_time || '—'}`)),
      h('div', h('div.muted', '预计成交'), h('div.rate', `${c.expedted_pr || 0}%`)))) : h('li.muted', '暂无客户'));
  };
  order.onchange = load;
  source.onchange = load;
  shell('通讯录', h('div', h('div.card.row', order, source, h('span.muted.grow', `共 ${''}`)), list));
  await load();
}

// ---------- one customer's story ----------

async function customerView(id) {
  const body = h('div', h('div.card.muted', '加载中…'));
  shell('客户详情', body, { back: '#/customers' });
  const [one, timeline, follows, phrases, tags] = await Promise.all([
    attempt(() => api.get(`${Q}/customer`, { customer_id: id })),
    attempt(() => api.get(`${Q}/action/time`, { customer_id: id, current_page: 1, length: 50 })),
    attempt(() => api.get(`${Q}/follow_info`, { customer_id: id })),
    attempt(() => api.get(`${Q}/follow_language`, { current_page: 1, length: 50 })),
    attempt(() => api.get(`${Q}/tag_list`)),
  ]);
  if (!one || !one.ret_data.length) return mount(body, h('div.card', '客户不存在'));
  const c = one.ret_data[0];
  const date = h('input#expected-time', { type: 'date', value: c.expected_time || '' });
  const pr = h('input#expected-pr', { type: 'number', min: 0, max: 100, value: parseInt(c.expedted_pr || '0', 10) || 0, style: 'width:5em' });
  const followText = h('input#follow-text.grow', { placeholder: '写跟进记录…' });
  const phraseList = phrases && phrases.ret_data[0] ? phrases.ret_data[0].follow_language : [];
  const current = new Set(c.tag || []);
  const chosen = new Set();
  const tagGroups = (tags ? tags.ret_data : []).map((g) => h('div', h('span.muted', g.name + ': '),
    g.tags.map((t) => {
      if (current.has(t.name)) chosen.add(t.id);
      const pill = h('a.pill', { class: current.has(t.name) ? 'on' : '', href: 'javascript:void 0', onclick: () => { pill.classList.toggle('on'); if (chosen.has(t.id)) chosen.delete(t.id); else chosen.add(t.id); } }, t.name);
      return pill;
    })));
  const reload = () => customerView(id);
  mount(body,
    h('div.card.row', avatar(c.headimgurl, 'avatar big'),
      h('div.grow', h('h2', c.username || `客户${c.id}`), h('div.muted', `来源: ${c.source || '—'}${c.superior ? ' · 上级: ' + c.superior : ''}`), h('div', (c.tag || []).map((t) => h('span.pill', t)))),
      h('div', h('div.muted', 'AI成交率'), h('div.rate#ai-pr', `${c.ai_pr || 0}%`))),
    (c.ai_factors || []).length ? h('div.card', h('div.muted', 'AI 成交率的依据'), h('ul', c.ai_factors.map((f) => h('li', `${f.text} (${f.score > 0 ? '+' : ''}${f.score})`)))) : null,
    h('div.card',
      h('label', h('span', '预计成交日期'), date, ' ', h('button.ghost', { onclick: async () => (await attempt(() => api.post(`${Q}/customer/update_expected_time/${id}`, { expected_time: date.value }))) && (toast('已保存'), reload()) }, '保存')),
      h('label', h('span', '预计成交率'), pr, ' % ', h('button.ghost', { onclick: async () => (await attempt(() => api.post(`${Q}/customer/update_expected_pr/${id}`, { expedted_pr: pr.value }))) && (toast('已保存'), reload()) }, '保存')),
      h('div', h('div.muted', '标签'), tagGroups, h('button.ghost', { onclick: async () => (await attempt(() => api.post(`${Q}/tag_list/customer_tag/${id}`, { tag_list: JSON.stringify([...chosen]) }))) && (toast('标签已保存'), reload()) }, '保存标签'))),
    h('div.actions', h('button#chat-with', { onclick: () => (location.hash = `#/chat/${id}`) }, '发消息')),
    h('h2', '  跟进记录'),
    h('div.card',
      h('div.row', followText, h('button', { onclick: async () => followText.value.trim() && (await attempt(() => api.post(`${Q}/follow_info/add/${id}`, { follow_info: followText.value.trim() }))) && (toast('已记录'), reload()) }, '记录')),
      h('div.phrases', phraseList.map((p) => h('button.ghost', { type: 'button', onclick: () => (followText.value = p.language) }, p.language))),
      h('ul.list', (follows ? follows.ret_data : []).slice().reverse().map((f) => h('li', h('div.grow', f.follow_info, h('div.muted', when(f.create_date))))))),
    h('h2', '  雷达轨迹'),
    h('ul.list.feed', (timeline ? timeline.ret_data : []).map((e) => radarItem(e, false))));
  state.view.onRadar = (ev) => ev.customer_id === id && reload();
}

// ---------- messages and chat ----------

async function messagesView() {
  const list = h('ul.list#contacts');
  shell('消息', list);
  const d = await attempt(() => api.get(`${Q}/contact`, { current_page: 1, length: 100 }));
  const rows = d ? d.ret_data : [];
  const paint = () => mount(list, rows.length ? rows.map((r) => {
    const cid = state.convOf.get(r.customer_id);
    const c = cid ? state.conv.get(cid) : null;
    return h('li', { dataset: { customer: r.customer_id }, onclick: () => (location.hash = `#/chat/${r.customer_id}`) },
      avatar(r.src), h('div.grow', h('div', r.name || `客户${r.customer_id}`), h('div.muted.last', r.msg)), h('div', h('div.muted', r.dateTime), h('span.badge', { dataset: { n: c ? c.unread : 0 } }, c && c.unread ? c.unread : '')));
  }) : h('li.muted', '暂无消息'));
  paint();
  state.view.onMessage = (m) => {
    const r = rows.find((x) => x.customer_id === m.customer_id);
    if (r) {
      r.msg = m.msg;
      r.dateTime = when(m.dateTime);
      rows.splice(rows.indexOf(r), 1);
      rows.unshift(r);
    } else {
      rows.unshift({ customer_id: m.customer_id, src: m.customer_headimgurl, name: m.customer, msg: m.msg, dateTime: when(m.dateTime) });
    }
    paint();
  };
}

function bubble(m, mineType) {
  const text = m.info_type === 2 ? `[咨询产品] ${m.product_name || ''} ${m.product_price ? '¥' + m.product_price : ''}` : m.msg;
  return h('div.bubble', { class: m.send_type === mineType ? 'mine' : '', dataset: { id: m.id, seq: m.seq } }, text, h('div.meta', when(m.dateTime)));
}

/** Chat with one customer (salesperson side): history paged over HTTP, live over the socket. */
async function chatView(id) {
  const msgs = h('div#msgs');
  const typing = h('div.typing#typing');
  const input = h('input#chat-input', { placeholder: '输入消息…', autocomplete: 'off' });
  const shown = new Set();
  let page = 1;
  let lastTyping = 0;
  const more = h('button.ghost#more', { onclick: () => loadPage(page + 1) }, '更早的消息');
  const phrases = h('div.phrases');
  const form = h('form', { onsubmit: (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || !state.ws) return;
    state.ws.send({ customer_id: id, msg: text });
    input.value = '';
  } }, input, h('button#chat-send', { type: 'submit' }, '发送'));
  input.oninput = () => {
    if (state.ws && Date.now() - lastTyping > 3000) {
      lastTyping = Date.now();
      state.ws.typing({ customer_id: id });
    }
  };
  const name = h('span', `客户${id}`);
  const scroller = h('div.msgs', more, msgs);
  // 话术库 (docs/articles.md, talk scripts): search the company's phrases and send one; the
  // server sends it as an ordinary message (info_type 1) and counts it.
  const talkList = h('ul.list#talk-list');
  const talkSearch = h('input#talk-search.grow', { placeholder: '搜索话术…', autocomplete: 'off' });
  const talkPanel = h('div.talk#talk-panel', { hidden: true }, h('div.row', talkSearch), talkList);
  let talkSeq = 0;
  const loadTalk = async () => {
    const mine = ++talkSeq;
    const d = await attempt(() => api.get(`${Q}/talk`, { keyword: talkSearch.value.trim() || undefined, current_page: 1, length: 20 }));
    if (!d || mine !== talkSeq) return;
    mount(talkList, d.ret_data.length ? d.ret_data.map((t) => h('li', { dataset: { phrase: t.id } },
      h('div.grow', h('div.talk-text', t.contentWords), h('div.muted', `${t.talkGroupName} · 已发送 ${t.sendNum} 次`)),
      h('button.ghost', { type: 'button', onclick: () => { input.value = t.contentWords; input.focus(); } }, '编辑'),
      h('button.talk-send', { type: 'button', onclick: async () => {
        const ok = await attempt(() => api.post(`${Q}/talk/send_msg/${t.id}`, { customer_id: id, client_msg_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) }));
        if (ok) talkPanel.hidden = true;
      } }, '发送'))) : h('li.muted', '没有找到话术'));
  };
  talkSearch.oninput = loadTalk;
  const talkBtn = h('button.ghost#talk-open', { type: 'button', onclick: () => {
    talkPanel.hidden = !talkPanel.hidden;
    if (!talkPanel.hidden) loadTalk();
  } }, '话术');
  form.prepend(talkBtn);
  shell(name, h('div.chat', scroller, typing, talkPanel, phrases, form), { back: '#/messages' });

  const markRead = (m) => {
    const cid = m.conversation_id;
    const c = state.conv.get(cid);
    if (state.ws) state.ws.read(cid, m.seq);
    if (c) c.unread = 0;
    refreshBadges();
  };
  const add = (m, atTop) => {
    if (shown.has(m.id)) return;
    shown.add(m.id);
    const b = bubble(m, 1);
    if (atTop) msgs.prepend(b);
    else msgs.append(b);
  };
  async function loadPage(p) {
    const rows = await attempt(() => api.get(`${Q}/chat`, { customer_id: id, current_page: p, length: 20 }));
    if (!rows) return;
    page = p;
    if (rows.length && rows[0].name) name.textContent = rows[0].name;
    for (const m of rows) add(m, true); // newest first: each older one goes on top
    if (rows.length < 20) more.remove();
    if (p === 1) {
      scroller.scrollTop = scroller.scrollHeight;
      if (rows.length) markRead(rows[0]);
    }
  }
  await loadPage(1);
  (async () => {
    const d = await attempt(() => api.get(`${Q}/follow_language`, { current_page: 1, length: 50 }));
    const list = d && d.ret_data[0] ? d.ret_data[0].follow_language : [];
    const canned = ['您好,我是您的专属顾问,有任何问题随时找我~', '好的,我马上为您安排。', '请问您方便留个电话吗?'];
    mount(phrases, [...canned, ...list.map((p) => p.language)].map((t) => h('button.ghost', { type: 'button', onclick: () => { input.value = t; input.focus(); } }, t)));
  })();
  let typingTimer;
  state.view.onTyping = (f) => {
    if (f.from && f.from.customer_id === id) {
      typing.textContent = '对方正在输入…';
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => (typing.textContent = ''), 4000);
    }
  };
  state.view.onMessage = (m) => {
    if (m.customer_id !== id) return;
    if (m.customer) name.textContent = m.customer;
    add(m, false);
    typing.textContent = '';
    scroller.scrollTop = scroller.scrollHeight;
    if (m.send_type === 2) markRead(m);
  };
  state.view.onReload = (f) => {
    if (state.convOf.get(id) === f.conversation_id) chatView(id);
  };
}

// ---------- the card ----------

async function cardView() {
  const body = h('div', h('div.card.muted', '加载中…'));
  shell('我的名片', body);
  const [card, tags] = await Promise.all([attempt(() => api.get(`${Q}/mingpian`)), attempt(() => api.get(`${Q}/tag_user`))]);
  if (!card) return;
  const c = card.ret_data[0];
  const phone = h('input#card-phone', { value: c.mingpian_phone || '', placeholder: '名片电话' });
  const sign = h('input#card-sign', { value: c.sign || '', placeholder: '个性签名' });
  const newTag = h('input', { placeholder: '新标签' });
  const qr = h('div');
  const articles = h('div', h('div.muted', '加载中…'));
  const showQr = (path) => mount(qr, path ? h('img', { src: '/' + path, alt: '小程序码', style: 'width:160px' }) : h('span.muted', '还没有小程序码'));
  showQr(c.qr_code);
  mount(body,
    h('div.hero.row', avatar(c.avatar, 'avatar big'), h('div.grow', h('h1', c.username), h('div.muted', `${c.position || ''} · ${c.company || ''}`), h('div.muted', c.mingpian_phone || ''))),
    h('div.card', h('h2', '名片信息'),
      h('label', h('span', '电话'), phone, ' ', h('button.ghost', { onclick: async () => (await attempt(() => api.post(`${Q}/tag_user/save_phone`, { mingpian_phone: phone.value.trim() }))) && toast('电话已保存') }, '保存')),
      h('label', h('span', '签名'), sign, ' ', h('button.ghost', { onclick: async () => (await attempt(() => api.post(`${Q}/mingpian/update_info`, { sign: sign.value }))) && toast('签名已保存') }, '保存'))),
    h('div.card', h('h2', '照片'), h('div.photos', (c.photo || []).map(([, url]) => h('img', { src: '/' + url, alt: '' })))),
    h('div.card', h('h2', '我的标签'), h('div', (tags ? tags.ret_data : []).map((t) => h('span.pill', t.name))),
      h('div.row', newTag, h('button.ghost', { onclick: async () => newTag.value.trim() && (await attempt(() => api.post(`${Q}/tag_user/add`, { name: newTag.value.trim() }))) && cardView() }, '添加'))),
    h('div.card', h('h2', '小程序码'), qr, h('button.ghost', { onclick: async () => {
      if (await attempt(() => api.get(`${Q}/qr_code_auth`))) {
        const d = await attempt(() => api.get(`${Q}/mingpian`));
        toast('小程序码已生成');
        if (d) showQr(d.ret_data[0].qr_code);
      }
    } }, '生成小程序码')),
    h('div.card.muted', '客户打开名片: ', h('a', { href: `/c/?uid=${api.session.user_id}` }, `/c/?uid=${api.session.user_id}`)),
    h('div.card#articles', h('h2', '文章影响力'), articles));
  const d = await attempt(() => api.get(`${A}/article/myarticle_list`, { status: 1, current_page: 1, length: 50 }));
  if (!d) return;
  mount(articles, d.ret_data.length ? h('ul.list', d.ret_data.map((a) => {
    const link = h('div.share');
    return h('li', { dataset: { article: a.id } },
      a.cover_url ? h('img.avatar', { src: fileUrl(a.cover_url), alt: '', style: 'border-radius:6px' }) : null,
      h('div.grow', h('div', a.title), h('div.muted', `阅读 ${a.read_count} · 转发 ${a.forward_count}`), link),
      h('div.row',
        h('button.ghost.share-article', { onclick: async (e) => {
          e.stopPropagation();
          // GZH-05 with the article: the link that opens it in the official account, as my share.
          const r = await attempt(() => api.get(`/zhugeleida/gongzhonghao/create_gongzhonghao_auth_url/${api.session.company_id}`, { article_id: a.id }));
          if (!r) return;
          mount(link, h('a.share-link', { href: r.authorize_url, style: 'word-break:break-all;font-size:12px' }, r.authorize_url));
          if (navigator.clipboard) navigator.clipboard.writeText(r.authorize_url).catch(() => {});
          toast('分享链接已生成,发给客户吧');
        } }, '分享'),
        h('button.ghost.influence', { onclick: () => (location.hash = `#/article/${a.id}`) }, '影响力')));
  })) : h('div.muted', '公司还没有发布文章'));
}

// ---------- one article's influence (QYW-52 and the spread extensions, docs/articles.md) ----------

const dur = (s) => (s >= 60 ? `${Math.floor(s / 60)}分${s % 60}秒` : `${s}秒`);

async function articleView(id) {
  const body = h('div#influence', h('div.card.muted', '加载中…'));
  shell('文章影响力', body, { back: '#/card' });
  let level = 1;
  const readers = h('ul.list#readers');
  const levels = h('div.row#levels');
  const loadLevel = async (n) => {
    level = n;
    const d = await attempt(() => api.get(`${Q}/article/customer_effect_ranking_by_level/${id}`, { level: n, current_page: 1, length: 50 }));
    if (!d) return;
    for (const b of levels.children) b.classList.toggle('ghost', Number(b.dataset.level) !== n);
    mount(readers, d.ret_data.length ? d.ret_data.map((r) => h('li', { dataset: { customer: r.customer_id, level: r.level, stay: r.stay_time }, onclick: () => (location.hash = `#/customer/${r.customer_id}`) },
      avatar(r.customer_headimgurl), h('div.grow', h('div', r.customer_name || `客户${r.customer_id}`), h('div.muted', [r.sex, r.area].filter(Boolean).join(' · '))),
      h('div.muted', `阅读 ${r.read_count} 次`, h('br'), `停留 ${dur(r.stay_time || 0)}`))) : h('li.muted', '这一层还没有读者'));
  };
  const paint = async () => {
    const [art, stay, first, tree, top] = await Promise.all([
      attempt(() => api.get(`${A}/article/myarticle/${id}`)),
      attempt(() => api.get(`${Q}/article/stay_distribution/${id}`)),
      attempt(() => api.get(`${Q}/article/customer_effect_ranking_by_level/${id}`, { level: 0 })),
      attempt(() => api.get(`${Q}/article/forward_tree/${id}`, { current_page: 1, length: 200 })),
      attempt(() => api.get(`${Q}/article/top_spreaders/${id}`, { length: 5 })),
    ]);
    if (!art || !stay) return mount(body, h('div.card', '文章不存在'));
    const a = art.ret_data[0];
    const max = Math.max(1, ...stay.buckets.map((b) => b.count));
    const deepest = (first && first.level_num) || 0;
    mount(levels, Array.from({ length: Math.max(1, deepest) }, (_, i) => h('button.ghost', { dataset: { level: i + 1 }, onclick: () => loadLevel(i + 1) }, `第${i + 1}层`)));
    mount(body,
      h('div.card', h('h2#influence-title', a.title), h('div.stats4',
        h('div.stat', '读者', h('b#reader-count', stay.reader_count)), h('div.stat', '阅读次数', h('b', stay.read_count)),
        h('div.stat', '转发', h('b#forward-count', stay.forward_count)), h('div.stat', '读完', h('b', stay.finished))),
      h('div.muted', `平均阅读 ${dur(Math.round(stay.avg_stay_time || 0))},读完约需 ${dur(stay.read_secs || 0)}`)),
      h('div.card', h('h2', '阅读时长分布'), h('div#stay-buckets', stay.buckets.map((b) => h('div.bar', { dataset: { bucket: b.bucket, n: b.count } }, h('span', b.bucket), h('i', { style: `width:${(b.count * 100) / max}%` }), h('b', b.count))))),
      h('div.card', h('h2', `按层级的读者(共 ${deepest} 层)`), levels, readers),
      h('div.card', h('h2', '转发树'), h('ul.list.tree#tree', tree && tree.ret_data.length ? tree.ret_data.map((n) => h('li', { dataset: { level: n.level, customer: n.customer_id }, style: `padding-left:${12 + (n.level - 1) * 20}px` },
        avatar(n.customer_headimgurl), h('div.grow', h('div', n.customer_name || `客户${n.customer_id}`), h('div.muted', `第${n.level}层 · 阅读 ${n.read_count} 次 · ${dur(n.stay_time || 0)}${n.finished ? ' · 已读完' : ''}`)),
        n.reach ? h('span.pill', `带来 ${n.reach} 人`) : null)) : h('li.muted', '还没有人读过'))),
      h('div.card', h('h2', '传播最广的客户'), h('ul.list#top-spreaders', top && top.ret_data.length ? top.ret_data.map((n) => h('li', { dataset: { customer: n.customer_id } },
        avatar(n.customer_headimgurl), h('div.grow', n.customer_name || `客户${n.customer_id}`), h('span.pill', `带来 ${n.reach} 人`))) : h('li.muted', '还没有客户转发带来新读者'))));
    await loadLevel(Math.min(level, Math.max(1, deepest)));
  };
  await paint();
  // Live: each read, forward or reading time of this article redraws the view.
  let busy = null;
  state.view.onRadar = (ev) => {
    if (ev.kind !== 'article' || ev.article_id !== id) return;
    busy = (busy || Promise.resolve()).then(paint);
  };
}

signIn();
