// The customer's article page (/yulanwenzhang/{id}): where GZH-07's redirect lands, in the
// official account's browser (docs/screens.md, docs/articles.md). The URL carries the share:
// ?pid=&level=&uid=&company_id= and, fresh from WeChat's OAuth redirect, &code=&state=&appid=.
// Signs the reader in (GZH-07; a first-time reader is sent once more through WeChat for
// consent), shows the article (GZH-06 records the read with its level), builds the reader's
// own share link (GZH-08) and records the forward (GZH-10), and reports the reading time
// (GZH-11, the page's own measure of visible seconds) whenever the page is hidden or left.
// All of it reaches the salesperson's radar through the documented endpoints.
import { Client, fileUrl } from '/web/zgld.js';
import { h, $, mount, toast, attempt, when, richContent } from '/web/ui.js';

const G = '/zhugeleida/gongzhonghao';
const api = new Client({ storageKey: 'zgld.gzh' });
const app = $('#app');
const articleId = Number(location.pathname.split('/').filter(Boolean)[1]) || 0;
const q = new URLSearchParams(location.search);
const share = {
  uid: Number(q.get('uid')) || 0,
  pid: q.get('pid') || '',
  level: Number(q.get('level')) || 1,
  company_id: Number(q.get('company_id')) || 0,
};
let accessId = null;

function fail(text) {
  mount(app, h('header.m-head', h('h1.grow', '文章')), h('div.card#article-error', text));
}

async function signIn() {
  const code = q.get('code');
  if (!code) return api.signedIn && (!share.company_id || api.session.company_id === share.company_id);
  let d;
  try {
    d = await api.loginOfficialAccount({ code, state: q.get('state') || 'snsapi_base', appid: q.get('appid') || undefined, article_id: articleId, pid: share.pid, level: share.level, uid: share.uid || undefined, company_id: share.company_id || undefined });
  } catch (e) {
    fail(`登录失败:${e.message}`);
    return null;
  }
  if (d.authorize_url) {
    // First visit of this reader: WeChat asks for the nickname and avatar, then comes back here.
    location.replace(d.authorize_url);
    return null;
  }
  for (const k of ['code', 'state', 'appid']) q.delete(k);
  history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
  return true;
}

// ---------- reading time (GZH-11): visible seconds, reported when the page is hidden or left ----------

let visibleSince = document.visibilityState === 'visible' ? performance.now() : null;
let readMs = 0;
let reported = 0;
function reportStay() {
  if (visibleSince !== null) {
    readMs += performance.now() - visibleSince;
    visibleSince = null;
  }
  const secs = Math.min(86400, Math.ceil(readMs / 1000));
  if (!accessId || secs <= reported) return;
  reported = secs;
  api.beacon(`${G}/article/staytime/${articleId}`, { article_access_log_id: accessId, uid: share.uid, pid: share.pid, stay_time: secs });
}
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') reportStay();
  else if (visibleSince === null) visibleSince = performance.now();
});
addEventListener('pagehide', reportStay);

// ---------- sharing (GZH-08 link, GZH-10 forward) ----------

async function shareLink() {
  return attempt(async () => (await api.get(`${G}/work_gongzhonghao_auth/create_gongzhonghao_share_auth_url`, { article_id: articleId, uid: share.uid, level: share.level, company_id: share.company_id || undefined })).share_url);
}

function recordForward(type) {
  return attempt(() => api.get(`${G}/article/forward_article/${articleId}`, { forward_type: type, uid: share.uid, pid: share.pid }));
}

/** Inside WeChat with the JS-SDK present (the host page's `wx`): the share menu carries the link. */
async function wechatMenu(a, link) {
  const wx = window.wx;
  const s = await attempt(() => api.get(`${G}/work_gongzhonghao_auth/gongzhonghao_share_sign`, { url: location.href.split('#')[0], company_id: share.company_id || undefined }));
  if (!s) return;
  wx.config({ appId: s.appid, timestamp: s.timestamp, nonceStr: s.nonceStr, signature: s.signature, jsApiList: ['onMenuShareAppMessage', 'onMenuShareTimeline'] });
  wx.ready(() => {
    const data = { title: a.title, desc: a.summary || '', link, imgUrl: a.cover_url ? new URL(fileUrl(a.cover_url), location.href).href : '' };
    wx.onMenuShareAppMessage({ ...data, success: () => recordForward(1) });
    wx.onMenuShareTimeline({ ...data, success: () => recordForward(2) });
  });
}

/** The pictures of the body (so a cover that is also the body's first picture shows once). */
function bodyPictures(content) {
  try {
    const c = JSON.parse(content);
    return (c.article_data || []).filter((b) => b.type === 'picture_url').flatMap((b) => b.data || []);
  } catch {
    return [];
  }
}

async function main() {
  if (!articleId || !share.uid) return fail('链接不完整:缺少文章或分享人。请从微信里分享给您的链接打开。');
  const ok = await signIn();
  if (ok === null) return;
  if (!ok) return fail('请在微信中打开分享给您的文章链接(需要微信授权登录)。');
  const d = await attempt(() => api.get(`${G}/article/myarticle/${articleId}`, { uid: share.uid, pid: share.pid }));
  if (!d || !d.ret_data || !d.ret_data.length) return fail('文章不存在或已下线');
  const a = d.ret_data[0];
  accessId = d.article_access_log_id;
  document.title = a.title || '文章';
  const box = h('div#share-box');
  const doShare = async (type) => {
    const link = await shareLink();
    if (!link) return;
    if (!(await recordForward(type))) return;
    mount(box, h('div.card', h('div.muted', type === 2 ? '已生成朋友圈分享链接:' : '已生成分享链接,发给朋友吧:'), h('a#share-link', { href: link, style: 'word-break:break-all' }, link)));
    if (navigator.share) navigator.share({ title: a.title, url: link }).catch(() => {});
    else if (navigator.clipboard) navigator.clipboard.writeText(link).catch(() => {});
    toast('分享链接已生成');
  };
  mount(app,
    h('header.m-head', h('h1.grow', '文章')),
    h('article.card.content#article', { dataset: { access: accessId } },
      h('h1#article-title', a.title),
      h('div.muted', [a.author, when(a.create_date)].filter(Boolean).join(' · ')),
      h('div', (a.tag_list || []).map((t) => h('span.pill', t.name))),
      a.summary ? h('p.muted', a.summary) : null,
      a.cover_url && !bodyPictures(a.content).includes(a.cover_url) ? h('img', { src: fileUrl(a.cover_url), alt: '' }) : null,
      richContent(a.content),
      a.insert_ads ? h('div.card.muted', a.insert_ads) : null),
    h('div.actions', h('button#share-friend', { onclick: () => doShare(1) }, '分享给朋友'), h('button.ghost#share-moments', { onclick: () => doShare(2) }, '分享到朋友圈')),
    box);
  if (window.wx && window.wx.config) {
    const link = await shareLink();
    if (link) wechatMenu(a, link);
  }
}

main();
