// The customer's pages (/c/): the salesperson's card, products, website, chat. What a mini
// program or an official-account H5 shows; every action goes through the documented customer
// endpoints, so the salesperson's radar sees it (docs/screens.md).
//
// Opened as /c/?uid=<salesperson id>[&code=<wx.login code>][&source=1|2]. Without a code the
// page signs in through the offline sandbox (a `sandbox-<openid>` code), as the demo does.
import { Client, Socket, fileUrl } from '/web/zgld.js';
import { h, $, mount, avatar, toast, attempt, when, param } from '/web/ui.js';

const X = '/zhugeleida/xiaochengxu';
const api = new Client({ storageKey: 'zgld.c' });
const app = $('#app');
const uid = Number(param('uid') || (api.session && api.session.uid) || 0);
const source = Number(param('source') || 1);
const state = { ws: null, unread: 0, view: null, card: null };

/** First picture of rich content (API.md 1.11), whatever nesting the list row uses. */
function cover(content) {
  let c = content && content.cover_data;
  while (c && !Array.isArray(c) && c.cover_data) c = c.cover_data;
  const pic = Array.isArray(c) ? c.find((x) => x.type === 'picture_url') : null;
  return pic && pic.data && pic.data[0] ? fileUrl(pic.data[0]) : '';
}

async function signIn() {
  if (!uid) return mount(app, h('div.card', '链接不完整:缺少销售的 uid。请从名片或小程序码打开。'));
  if (api.signedIn && api.session.uid === uid && !param('code')) return start();
  let code = param('code');
  if (!code) {
    // The sandbox's mini program accepts `sandbox-<openid>` (README); a real mini program
    // passes its wx.login code in the link instead.
    let openid = localStorage.getItem('zgld.c.openid');
    if (!openid) {
      openid = 'o_h5_' + Math.random().toString(36).slice(2, 10);
      localStorage.setItem('zgld.c.openid', openid);
    }
    code = `sandbox-${openid}.${Date.now()}`;
  }
  const ok = await attempt(() => api.loginMiniProgram(code, uid, source));
  if (!ok) return mount(app, h('div.card', '登录失败,请稍后重试'));
  const q = new URLSearchParams(location.search);
  q.delete('code');
  history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
  start();
}

api.addEventListener('expired', () => {
  if (state.ws) state.ws.stop();
  state.ws = null;
  api.signOut();
  signIn();
});

function start() {
  if (!state.ws) {
    const ws = new Socket(api, `${X}/ws`);
    state.ws = ws;
    ws.on('expired', () => api.dispatchEvent(new CustomEvent('expired')));
    ws.on('hello', (f) => {
      state.unread = (f.conversations || []).filter((c) => c.peer_id === uid).reduce((n, c) => n + (c.unread || 0), 0);
      badge();
    });
    ws.on('message', (m) => {
      const open = state.view && state.view.name === 'chat';
      if (m.send_type === 1 && !open) state.unread += 1;
      badge();
      if (state.view && state.view.onMessage) state.view.onMessage(m);
    });
    ws.on('typing', (f) => state.view && state.view.onTyping && state.view.onTyping(f));
    ws.on('error', (f) => toast(f.msg || '发送失败', 'error'));
  }
  window.onhashchange = route;
  route();
}

function badge() {
  const b = $('#badge-chat');
  if (b) {
    b.textContent = state.unread > 0 ? String(state.unread) : '';
    b.dataset.n = String(state.unread);
  }
}

function shell(title, body, back) {
  const tab = (hash, label, id) => h('a', { href: hash, class: location.hash.startsWith(hash) ? 'active' : '' }, label, id ? h('span.badge', { id }) : null);
  document.title = title;
  mount(app, h('header.m-head', back ? h('a', { href: back }, '‹ 返回') : null, h('h1.grow', title)), body,
    h('nav.tabs', tab('#/card', '名片'), tab('#/products', '产品'), tab('#/website', '官网'), tab('#/chat', '咨询', 'badge-chat')));
  badge();
}

function route() {
  const [, name = 'card', id] = (location.hash || '#/card').split('/');
  state.view = { name, id: Number(id) };
  const views = { card: cardView, products: productsView, product: productView, website: websiteView, chat: chatView };
  (views[name] || cardView)(Number(id));
}

// ---------- the card (XCX-02, logs 查看名片) ----------

async function cardView() {
  const body = h('div', h('div.card.muted', '加载中…'));
  shell('名片', body);
  const d = await attempt(() => api.get(`${X}/mingpian`, { uid, action: 1 }));
  if (!d || !d.ret_data.length) return;
  const c = d.ret_data[0];
  state.card = c;
  const praise = h('span#praise-count', String(c.praise));
  const praiseBtn = h('button#praise', { class: c.is_up_down ? '' : 'ghost', onclick: async () => {
    if (!(await attempt(() => api.get(`${X}/mingpian/praise`, { uid, action: 9 })))) return;
    c.is_up_down = !c.is_up_down;
    c.praise += c.is_up_down ? 1 : -1;
    praise.textContent = String(c.praise);
    praiseBtn.classList.toggle('ghost', !c.is_up_down);
    praiseBtn.firstChild.textContent = c.is_up_down ? '已觉得靠谱 ' : '觉得靠谱 ';
    toast(c.is_up_down ? '已点赞' : '已取消');
  } }, c.is_up_down ? '已觉得靠谱 ' : '觉得靠谱 ', praise);
  mount(body,
    h('div.hero',
      h('div.row', avatar(c.avatar, 'avatar big'), h('div.grow', h('h1#card-name', c.username), h('div', c.position || ''), h('div.muted', c.company || ''))),
      h('div.muted', c.sign || ''),
      h('div.row', h('span.muted', `人气 ${c.popularity}`), h('span.muted', `转发 ${c.forward}`))),
    c.mingpian_phone || c.wechat || c.email || c.address ? h('div.card',
      c.mingpian_phone ? h('div', '电话: ', c.mingpian_phone) : null,
      c.wechat ? h('div', '微信: ', c.wechat) : null,
      c.email ? h('div', '邮箱: ', c.email) : null,
      c.address ? h('div', '地址: ', c.address) : null) : null,
    h('div.actions', praiseBtn,
      h('button.ghost#forward', { onclick: async () => {
        if (!(await attempt(() => api.get(`${X}/mingpian/forward`, { uid, action: 6 })))) return;
        const link = `${location.origin}/c/?uid=${uid}&source=2`;
        if (navigator.share) navigator.share({ title: `${c.username}的名片`, url: link }).catch(() => {});
        else if (navigator.clipboard) navigator.clipboard.writeText(link).catch(() => {});
        toast('名片链接已复制,发给朋友吧');
      } }, '转发名片'),
      h('button.ghost#call', { onclick: async () => {
        if (!(await attempt(() => api.get(`${X}/mingpian/calling`, { uid, action: 10 })))) return;
        if (c.mingpian_phone) location.href = `tel:${c.mingpian_phone}`;
      } }, '拨打电话'),
      h('button#consult', { onclick: () => (location.hash = '#/chat') }, '在线咨询')),
    (c.photo || []).length ? h('div.card', h('h2', '照片'), h('div.photos', c.photo.map(([, url]) => h('img', { src: fileUrl(url), alt: '' })))) : null);
}

// ---------- products ----------

async function productsView() {
  const grid = h('div.products#products');
  shell('产品', grid);
  const d = await attempt(() => api.get(`${X}/product`, { uid, source }));
  if (!d) return;
  mount(grid, d.ret_data.length ? d.ret_data.map((p) => h('div.p', { dataset: { product: p.product_id }, onclick: () => (location.hash = `#/product/${p.product_id}`) },
    h('img', { src: cover(p.content), alt: '' }), h('div', h('div.name', p.name), h('div.rate', p.price ? `¥${p.price}` : '')))) : h('div.muted', '暂无产品'));
}

async function productView(id) {
  const body = h('div', h('div.card.muted', '加载中…'));
  shell('产品详情', body, '#/products');
  const d = await attempt(() => api.get(`${X}/product/product_single`, { uid, product_id: id, source }));
  if (!d || !d.ret_data.length) return;
  const p = d.ret_data[0];
  const article = (p.content && p.content.article_data) || [];
  mount(body,
    h('div.card.content', cover(p.content) ? h('img', { src: cover(p.content), alt: '' }) : null,
      h('h2#product-name', p.name), h('div.rate', p.price ? `¥${p.price}` : ''), p.reason ? h('p.muted', p.reason) : null),
    h('div.card.content', article.map((b) => b.type === 'picture_url' ? (b.data || []).map((u) => h('img', { src: fileUrl(u), alt: '' }))
      : b.type === 'title' ? h('h2', (b.data || []).join(' ')) : h('p', (b.data || []).join('\n')))),
    h('div.actions', h('button#consult-product', { onclick: () => {
      state.pendingProduct = { info_type: 2, product_name: p.name, product_price: String(p.price || ''), product_cover_url: ((p.content && p.content.cover_data && p.content.cover_data[0] && p.content.cover_data[0].data) || [''])[0] };
      location.hash = '#/chat';
    } }, '咨询此产品')));
}

// ---------- website ----------

async function websiteView() {
  const body = h('div', h('div.card.muted', '加载中…'));
  shell('官网', body);
  const d = await attempt(() => api.get(`${X}/website`, { uid, source }));
  if (!d || !d.ret_data.length) return;
  const w = d.ret_data[0];
  const blocks = w.website_content || [];
  mount(body, h('div.card', h('h2', w.name || '公司官网')),
    blocks.length ? blocks.map((b) => h('div.card.content', (b.data || []).map((x) => [x.picture_url ? h('img', { src: fileUrl(x.picture_url), alt: '' }) : null,
      ...Object.entries(x).filter(([k]) => k !== 'picture_url').map(([, v]) => h('p', String(v)))]))) : h('div.card.muted', '官网内容还在准备中'));
}

// ---------- chat with the salesperson ----------

async function chatView() {
  const msgs = h('div#msgs');
  const typing = h('div.typing#typing');
  const input = h('input#chat-input', { placeholder: '想了解什么?直接问我吧', autocomplete: 'off' });
  const shown = new Set();
  let page = 1;
  let lastTyping = 0;
  const more = h('button.ghost#more', { onclick: () => loadPage(page + 1) }, '更早的消息');
  const scroller = h('div.msgs', more, msgs);
  const form = h('form', { onsubmit: (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || !state.ws) return;
    state.ws.send({ u_id: uid, msg: text });
    input.value = '';
  } }, input, h('button#chat-send', { type: 'submit' }, '发送'));
  input.oninput = () => {
    if (state.ws && Date.now() - lastTyping > 3000) {
      lastTyping = Date.now();
      state.ws.typing({ u_id: uid });
    }
  };
  shell(state.card ? `咨询 ${state.card.username}` : '在线咨询', h('div.chat', scroller, typing, form), '#/card');
  const add = (m, atTop) => {
    if (shown.has(m.id)) return;
    shown.add(m.id);
    const text = m.info_type === 2 ? `[咨询产品] ${m.product_name || ''} ${m.product_price ? '¥' + m.product_price : ''}` : m.msg;
    const b = h('div.bubble', { class: m.send_type === 2 ? 'mine' : '', dataset: { id: m.id, seq: m.seq } }, text, h('div.meta', when(m.dateTime)));
    if (atTop) msgs.prepend(b);
    else msgs.append(b);
  };
  const markRead = (m) => {
    if (state.ws) state.ws.read(m.conversation_id, m.seq);
    state.unread = 0;
    badge();
  };
  async function loadPage(p) {
    const rows = await attempt(() => api.get(`${X}/chat`, { u_id: uid, customer_id: api.session.user_id, current_page: p, length: 20 }));
    if (!rows) return;
    const list = Array.isArray(rows) ? rows : rows.ret_data || [];
    page = p;
    for (const m of list) add(m, true);
    if (list.length < 20) more.remove();
    if (p === 1) {
      scroller.scrollTop = scroller.scrollHeight;
      if (list.length) markRead(list[0]);
    }
  }
  await loadPage(1);
  if (state.pendingProduct && state.ws) {
    state.ws.send({ u_id: uid, content: state.pendingProduct });
    state.pendingProduct = null;
  }
  let typingTimer;
  state.view.onTyping = (f) => {
    if (f.from && f.from.user_id === uid) {
      typing.textContent = '对方正在输入…';
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => (typing.textContent = ''), 4000);
    }
  };
  state.view.onMessage = (m) => {
    add(m, false);
    typing.textContent = '';
    scroller.scrollTop = scroller.scrollHeight;
    if (m.send_type === 1) markRead(m);
  };
}

signIn();
