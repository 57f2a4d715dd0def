// zgld.js — the client library of 诸葛雷达 (docs/web-client.md). Plain ES module, no build step.
//
//   import { Client, Socket, ApiError } from '/web/zgld.js';
//   const api = new Client({ storageKey: 'zgld.h5' });
//   await api.loginPassword('sales1', 'Sales2026');           // ADM-01
//   const page = await api.get('/zhugeleida/qiyeweixin/tongxunlu', { order: 'last_activity_time' });
//   await api.post('/zhugeleida/qiyeweixin/follow_info/add/7', { follow_info: '电话沟通' });
//   const ws = new Socket(api, '/zhugeleida/qiyeweixin/ws');
//   ws.on('message', row => …); ws.on('radar', ev => …); ws.send({ customer_id: 7, msg: '你好' });
import md5 from './md5.js';

/** The `code` values of API.md 1.5. */
export const CODES = {
  200: '正常',
  300: '名称已存在',
  301: '数据类型验证失败',
  302: '对应ID不存在',
  303: '表单验证错误',
  304: '含有子级数据',
  305: '不允许删除自己',
  306: '账户未启用',
  401: '账号密码错误',
  404: '非法请求',
  429: '发送过于频繁',
  500: '服务暂时不可用',
};

/** A non-200 envelope: `code` and the server's `msg` (show `msg` to people as it is). */
export class ApiError extends Error {
  constructor(code, msg, data) {
    super(msg || CODES[code] || `错误 ${code}`);
    this.code = code;
    this.data = data;
  }
}

/** Signature of one request: `rand_str = md5(timestamp + token)` (API.md 1.2). */
export function sign(token, timestamp) {
  return md5(String(timestamp) + token);
}

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

/**
 * Signed HTTP client. The session (`user_id`, `token`, and whatever the login answered) is kept
 * in `storage` (sessionStorage by default: one per tab, so two tabs may be two people).
 * Every request takes a fresh timestamp, strictly increasing (docs/auth.md: a write's
 * signature is spent, so two writes never share one).
 */
export class Client extends EventTarget {
  constructor({ base = '', storage, storageKey = 'zgld', probe = null } = {}) {
    super();
    this.base = base;
    this.probe = probe;
    this.storage = storage || (typeof sessionStorage !== 'undefined' ? sessionStorage : memoryStorage());
    this.key = storageKey;
    this.lastTs = 0;
    try {
      this.session = JSON.parse(this.storage.getItem(this.key) || 'null');
    } catch {
      this.session = null;
    }
  }

  get signedIn() {
    return !!(this.session && this.session.token);
  }

  setSession(s) {
    this.session = s;
    if (s) this.storage.setItem(this.key, JSON.stringify(s));
    else this.storage.removeItem(this.key);
    this.dispatchEvent(new CustomEvent('session', { detail: s }));
  }

  signOut() {
    this.setSession(null);
  }

  /** A fresh, strictly increasing millisecond timestamp. */
  timestamp() {
    this.lastTs = Math.max(Date.now(), this.lastTs + 1);
    return this.lastTs;
  }

  /** The signed query (`rand_str`, `timestamp`, `user_id`) for one request or WebSocket. */
  authQuery() {
    if (!this.signedIn) throw new ApiError(404, '请先登录');
    const ts = this.timestamp();
    return { rand_str: sign(this.session.token, ts), timestamp: String(ts), user_id: String(this.session.user_id) };
  }

  url(path, query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null) q.append(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    const s = q.toString();
    return this.base + path + (s ? (path.includes('?') ? '&' : '?') + s : '');
  }

  /** Sends one request and opens the envelope: resolves `data`, or throws ApiError. */
  async request(method, path, { query, form, signed = true } = {}) {
    const q = { ...(query || {}), ...(signed ? this.authQuery() : {}) };
    const init = { method, headers: {} };
    if (form instanceof FormData) {
      init.body = form;
    } else if (form) {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries(form)) {
        if (v !== undefined && v !== null) body.append(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
      }
      init.body = body;
    }
    let res;
    try {
      res = await fetch(this.url(path, q), init);
    } catch (e) {
      throw new ApiError(0, '网络连接失败,请检查网络后重试');
    }
    let env;
    try {
      env = await res.json();
    } catch {
      throw new ApiError(res.status, `服务器返回了无法识别的内容 (HTTP ${res.status})`);
    }
    if (env.code === 200) return env.data;
    const err = new ApiError(env.code, env.msg, env.data);
    // 404 非法请求 on a signed call: the session is gone (a spent signature says so in its msg)
    // — or this session may not do that (the legacy answers a refusal the same way). With a
    // `probe` (a signed GET every session of this kind may call), the session is checked first.
    if (signed && env.code === 404 && env.msg === '非法请求' && !(await this.stillSignedIn())) this.dispatchEvent(new CustomEvent('expired', { detail: err }));
    if (env.code === 306) this.dispatchEvent(new CustomEvent('expired', { detail: err }));
    throw err;
  }

  /** Whether the session still works (the `probe` answers); without a probe, assumed not. */
  async stillSignedIn() {
    if (!this.probe || !this.signedIn) return false;
    try {
      const res = await fetch(this.url(this.probe, this.authQuery()));
      return (await res.json()).code === 200;
    } catch {
      return false;
    }
  }

  get(path, query) {
    return this.request('GET', path, { query });
  }

  post(path, form, query) {
    return this.request('POST', path, { form: form || {}, query });
  }

  /** ADM-01: staff sign in with login name and password (admins, and salespeople). */
  async loginPassword(username, password) {
    const d = await this.request('POST', '/zhugeleida/admin/login', { form: { username, password }, signed: false });
    this.setSession({ ...d, kind: 'staff' });
    return d;
  }

  /** QYW-01: a salesperson through WeCom OAuth (`code` from the redirect). */
  async loginWecom(companyId, code) {
    const d = await this.request('GET', `/zhugeleida/qiyeweixin/work_weixin_auth/${companyId}`, { query: { code }, signed: false });
    this.setSession({ ...d, kind: 'staff' });
    return d;
  }

  /** XCX-01: a customer through the mini program (`code` from wx.login; `uid` the card's salesperson). */
  async loginMiniProgram(code, uid, source = 1) {
    const d = await this.request('GET', '/zhugeleida/xiaochengxu/login', { query: { code, uid, user_type: 2, source }, signed: false });
    this.setSession({ ...d, kind: 'customer', uid: Number(uid) });
    return d;
  }

  /**
   * GZH-07: a reader in the official account, with the OAuth `code` WeChat's redirect put in the
   * article page's URL (`state`, `appid`, `article_id`, `pid`, `level`, `uid`, `company_id` as the
   * page got them). Resolves `{ authorize_url }` when WeChat must ask the reader's consent first
   * (`is_verify` false: send the browser there), else signs in and resolves `{ user_id, token }`.
   */
  async loginOfficialAccount(query) {
    const d = await this.request('GET', '/zhugeleida/gongzhonghao/work_gongzhonghao_auth', { query, signed: false });
    if (d.is_verify === false && d.authorize_url) return { authorize_url: d.authorize_url };
    this.setSession({ user_id: d.user_id, token: d.token, kind: 'customer', uid: Number(query.uid) || 0, company_id: Number(query.company_id) || 0 });
    return d;
  }

  /**
   * A signed GET that survives the page going away (`fetch` with `keepalive`, e.g. from
   * `pagehide`); its answer is not read.
   */
  beacon(path, query) {
    if (!this.signedIn) return;
    const url = this.url(path, { ...(query || {}), ...this.authQuery() });
    try {
      fetch(url, { keepalive: true }).catch(() => {});
    } catch {
      if (navigator.sendBeacon) navigator.sendBeacon(url);
    }
  }

  /**
   * PUB-01/02: uploads a File/Blob in chunks; `onProgress(fraction)`; resolves the stored
   * `statics/…` path. `source` is `cover_picture` or `product_picture`.
   */
  async uploadImage(file, { source = 'cover_picture', chunkSize = 256 * 1024, onProgress } = {}) {
    const id = String(Date.now()) + String(Math.floor(Math.random() * 1e6));
    const name = file.name || 'image.png';
    const n = Math.max(1, Math.ceil(file.size / chunkSize));
    for (let i = 0; i < n; i++) {
      const fd = new FormData();
      fd.append('img_name', name);
      fd.append('timestamp', id);
      fd.append('chunk', String(i));
      fd.append('img_source', source);
      fd.append('img_data', file.slice(i * chunkSize, (i + 1) * chunkSize), name);
      await this.request('POST', '/zhugeleida/public/img_upload', { form: fd });
      if (onProgress) onProgress((i + 1) / (n + 1));
    }
    const d = await this.post('/zhugeleida/public/img_merge', { img_name: name, timestamp: id, chunk_num: n, img_source: source });
    if (onProgress) onProgress(1);
    return d.ret_data.picture_url;
  }
}

/** A stored path (`statics/…`) or absolute URL as an `<img src>`. */
export function fileUrl(path, base = '') {
  if (!path) return '';
  if (/^(https?:|data:|blob:)/.test(path)) return path;
  return base + '/' + String(path).replace(/\\/g, '/').replace(/^\/+/, '');
}

function newClientMsgId() {
  if (typeof crypto !== 'undefined' && crypto.randomUUID) return crypto.randomUUID();
  return 'm' + Date.now().toString(36) + Math.random().toString(36).slice(2);
}

/**
 * The WebSocket client (docs/realtime.md). Connects signed, and on every (re)connect resumes:
 * `resume` with the last seq seen of each conversation, `radar_resume` after the last radar
 * event id (salespeople). Reconnects with exponential backoff (0.5 s … 30 s, jittered) after
 * 4000/4001/1013/1006…, stops on 4003 (emits `expired`) and 4002 (emits `replaced`).
 * Messages are de-duplicated by (conversation, seq) and `client_msg_id`; unacknowledged sends
 * are sent again with the same `client_msg_id` after a reconnect (the server never stores
 * them twice). The seqs and the radar id are kept in the client's storage, so a reloaded page
 * resumes where it was.
 *
 * Events (`on(name, fn)`): `state` ('connecting'|'open'|'closed'|'stopped'), `hello`,
 * `message` (the row, once), `sent`, `radar` (the event, once), `unread`, `typing`,
 * `reload` / `radar_reload` (too much missed: read the history over HTTP), `resumed`,
 * `error` (an `error` frame), `expired`, `replaced`, `frame` (every frame).
 */
export class Socket {
  constructor(client, path, { radar = false, backoffMs = 500, maxBackoffMs = 30000 } = {}) {
    this.client = client;
    this.path = path;
    this.radar = radar;
    this.backoffMs = backoffMs;
    this.maxBackoffMs = maxBackoffMs;
    this.handlers = new Map();
    this.outbox = new Map(); // client_msg_id -> frame, until `sent`
    this.seen = new Set(); // "conversation:seq" and client ids delivered
    this.attempt = 0;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
    this.stateKey = `${client.key}.ws.${client.session ? client.session.user_id : 0}`;
    let saved = {};
    try {
      saved = JSON.parse(client.storage.getItem(this.stateKey) || '{}');
    } catch {
      saved = {};
    }
    this.seqs = saved.seqs || {}; // conversation_id -> last seq seen
    this.radarId = saved.radarId || 0;
    this.connect();
  }

  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(fn);
    return this;
  }

  emit(name, v) {
    for (const fn of this.handlers.get(name) || []) {
      try {
        fn(v);
      } catch (e) {
        console.error(e);
      }
    }
  }

  save() {
    this.client.storage.setItem(this.stateKey, JSON.stringify({ seqs: this.seqs, radarId: this.radarId }));
  }

  connect() {
    if (this.stopped) return;
    let q;
    try {
      q = this.client.authQuery();
    } catch {
      this.stop();
      this.emit('expired', null);
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const base = this.client.base ? this.client.base.replace(/^http/, 'ws') : `${proto}//${location.host}`;
    const ws = new WebSocket(base + this.path + '?' + new URLSearchParams(q));
    this.ws = ws;
    this.emit('state', 'connecting');
    ws.onopen = () => {
      this.emit('state', 'open');
      const known = Object.keys(this.seqs).length > 0;
      if (known) this.raw({ type: 'resume', conversations: this.seqs });
      if (this.radar && this.radarId > 0) this.raw({ type: 'radar_resume', after_id: this.radarId });
      for (const f of this.outbox.values()) this.raw(f);
    };
    ws.onmessage = (e) => {
      let f;
      try {
        f = JSON.parse(e.data);
      } catch {
        return;
      }
      this.handle(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 4003) {
        this.stop();
        this.emit('expired', e.code);
        return;
      }
      if (e.code === 4002) {
        this.stop();
        this.emit('replaced', e.code);
        return;
      }
      if (this.stopped) return;
      this.emit('state', 'closed');
      const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  /** Closes for good (no reconnect). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.emit('state', 'stopped');
  }

  /** Drops the connection now and reconnects at once (e.g. the page came back to the foreground). */
  reconnect() {
    this.attempt = 0;
    if (this.ws) this.ws.close(1000);
    else {
      clearTimeout(this.timer);
      this.connect();
    }
  }

  raw(frame) {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /**
   * Sends a chat message: `{customer_id, msg}` (salesperson) or `{u_id, msg}` (customer), or
   * with `content` (GZH-01 object). Returns the `client_msg_id`; the `sent` event confirms it,
   * and the message arrives once as a `message` event.
   */
  send(msg) {
    const id = msg.client_msg_id || newClientMsgId();
    const frame = { ...msg, type: 'send', client_msg_id: id };
    this.outbox.set(id, frame);
    this.raw(frame);
    return id;
  }

  read(conversationId, seq) {
    return this.raw({ type: 'read', conversation_id: Number(conversationId), seq: Number(seq) });
  }

  typing(target) {
    return this.raw({ type: 'typing', ...target });
  }

  /** Delivers a message row once (by conversation seq, then client id). */
  deliver(row) {
    const k = `${row.conversation_id}:${row.seq}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    const prev = this.seqs[row.conversation_id] || 0;
    if (row.seq > prev) {
      this.seqs[row.conversation_id] = row.seq;
      this.save();
    }
    this.emit('message', row);
  }

  handle(f) {
    this.emit('frame', f);
    switch (f.type) {
      case 'hello':
        this.attempt = 0;
        // Conversations we never saw start from their current end: history comes over HTTP.
        for (const c of f.conversations || []) {
          if (!(c.conversation_id in this.seqs)) this.seqs[c.conversation_id] = c.last_seq;
        }
        this.save();
        this.emit('hello', f);
        break;
      case 'message':
        this.deliver(f.message);
        break;
      case 'sent':
        this.outbox.delete(f.client_msg_id);
        if (f.message) this.deliver(f.message);
        this.emit('sent', f);
        break;
      case 'radar': {
        const ev = f.event || {};
        // Article events (`kind: 'article'`, docs/articles.md) are never replayed and their `id`
        // is the reader's node, not an action-log id: delivered as they come, not counted.
        if (ev.kind === 'article') {
          this.emit('radar', { ...ev, replay: false });
          break;
        }
        if (ev.id && ev.id <= this.radarId && f.replay) break;
        if (ev.id && this.seen.has('r' + ev.id)) break;
        if (ev.id) {
          this.seen.add('r' + ev.id);
          if (ev.id > this.radarId) {
            this.radarId = ev.id;
            this.save();
          }
        }
        this.emit('radar', { ...ev, replay: !!f.replay });
        break;
      }
      case 'resync':
        this.raw({ type: 'resume', conversations: this.seqs });
        if (this.radar) this.raw({ type: 'radar_resume', after_id: this.radarId });
        break;
      case 'reload':
        if (f.last_seq) {
          this.seqs[f.conversation_id] = f.last_seq;
          this.save();
        }
        this.emit('reload', f);
        break;
      case 'error':
        if (f.client_msg_id && f.code !== 429 && f.code !== 500) this.outbox.delete(f.client_msg_id);
        if (f.client_msg_id && (f.code === 429 || f.code === 500)) {
          const frame = this.outbox.get(f.client_msg_id);
          if (frame) setTimeout(() => this.raw(frame), 1000);
        }
        this.emit('error', f);
        break;
      default:
        this.emit(f.type, f);
    }
  }

  /** Remembers the radar id already shown (e.g. the newest row read over HTTP). */
  setRadarId(id) {
    if (id > this.radarId) {
      this.radarId = id;
      this.save();
    }
  }
}
