// The admin console (/console/): company admins and the platform operator. Only the public
// API (ADM-nn, PUB-01/02); every error shows the server's msg (docs/screens.md).
import { Client, fileUrl } from '/web/zgld.js';
import { h, $, mount, toast, avatar, richContent } from '/web/ui.js';
import { lineChart } from '/web/chart.js';

const A = '/zhugeleida/admin';
const api = new Client({ storageKey: 'zgld.console', probe: '/zhugeleida/admin/login_rules' });
const app = $('#app');

const MENU = [
  ['home', '首页'],
  ['users', '用户'],
  ['temp', '待审核用户'],
  ['roles', '角色与权限'],
  ['accounts', '后台账号'],
  ['products', '产品'],
  ['articles', '文章'],
  ['article_tags', '文章标签'],
  ['talk', '话术库'],
  ['website', '官网'],
  ['plugins', '插件'],
  ['companies', '公司'],
  ['xcx', '小程序授权'],
  ['gzh', '公众号授权'],
  ['release', '代小程序发布'],
];

/**
 * Runs an API call; an error is shown with the server's msg in the page's error line (#error,
 * kept until the next error or page) and as a toast.
 */
async function call(fn) {
  const box = $('#error');
  try {
    return await fn();
  } catch (e) {
    if (box) box.textContent = e.message;
    toast(e.message, 'error');
    return null;
  }
}

function table(cols, rows, empty = '暂无数据') {
  return h('table', h('thead', h('tr', cols.map(([t]) => h('th', t)))),
    h('tbody', rows.length ? rows.map((r) => h('tr', cols.map(([, f]) => h('td', f(r))))) : h('tr', h('td', { colspan: cols.length, class: 'muted' }, empty))));
}

function field(label, input) {
  return h('label', h('span', label), input);
}

/**
 * The add/edit form of a list page: `fill(row)` puts a row's values in the inputs (null clears
 * them), `save(row)` posts the add (row null) or the update; the title and buttons follow.
 */
function editor(noun, inputs, { fill, save, id }) {
  let editing = null;
  const title = h('h2', `新增${noun}`);
  const cancel = h('button.ghost', { type: 'button', hidden: true, onclick: () => set(null) }, '取消编辑');
  const submit = h('button', { type: 'button', id, onclick: async () => {
    if (await save(editing)) {
      toast(editing ? '已修改' : '已添加');
      set(null);
    }
  } }, `添加${noun}`);
  const set = (row) => {
    editing = row;
    fill(row);
    title.textContent = row ? `编辑${noun}` : `新增${noun}`;
    submit.textContent = row ? '保存修改' : `添加${noun}`;
    cancel.hidden = !row;
    if (row) title.scrollIntoView({ block: 'start' });
  };
  return { set, el: [title, h('div.card', inputs, h('div.toolbar', submit, cancel))] };
}

// ---------- sign-in ----------

function signIn() {
  const err = h('div.err#login-error');
  const user = h('input#login-user', { placeholder: '登录名', autocomplete: 'username' });
  const pass = h('input#login-pass', { type: 'password', placeholder: '密码', autocomplete: 'current-password' });
  mount(app, h('form.login', { onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api.loginPassword(user.value.trim(), pass.value);
      route();
    } catch (x) {
      err.textContent = x.message;
    }
  } }, h('h1', '诸葛雷达 · 管理后台'), h('p.muted', '公司管理员与平台运营登录'), field('账号', user), field('密码', pass), err, h('button#login-submit', { type: 'submit' }, '登录')));
}

api.addEventListener('expired', () => {
  api.signOut();
  toast('登录已失效,请重新登录', 'error');
  signIn();
});

function changePassword() {
  const p1 = h('input', { type: 'password' });
  const p2 = h('input', { type: 'password' });
  const err = h('div.err#error');
  mount(app, h('form.login', { onsubmit: async (e) => {
    e.preventDefault();
    if (await call(() => api.post(`${A}/modify_password`, { password1: p1.value, password2: p2.value }))) {
      api.setSession({ ...api.session, is_reset_password: true });
      route();
    }
  } }, h('h1', '首次登录请修改密码'), h('p.muted', '至少 8 位,包含大小写字母和数字'), field('新密码', p1), field('再输一次', p2), err, h('button', { type: 'submit' }, '保存')));
}

// ---------- shell and routing ----------

function shell(key, ...body) {
  const s = api.session;
  mount(app, h('div.c-app',
    h('nav.c-nav', h('h1', '诸葛雷达'), MENU.map(([k, t]) => h('a', { href: `#/${k}`, class: k === key ? 'active' : '', dataset: { menu: k } }, t)),
      h('div.muted', { style: 'padding:16px;color:#889' }, `${s.company_name || ''} · ${s.role_name || ''}`),
      h('a', { href: 'javascript:void 0', onclick: () => { api.signOut(); signIn(); } }, '退出登录')),
    h('main.c-main', h('div.err#error'), body)));
}

function route() {
  if (!api.signedIn) return signIn();
  if (api.session.is_reset_password === false) return changePassword();
  const key = (location.hash || '#/home').slice(2).split('/')[0];
  const views = { home, users, temp, roles, accounts, products, articles, article_tags: articleTags, talk, website, plugins, companies, xcx, gzh, release };
  (views[key] || home)();
}
window.onhashchange = route;

// ---------- home: ADM-06..08 ----------

const INDEX = [[1, '客户总数'], [2, '跟进总数'], [3, '浏览总数'], [4, '被转发总数'], [5, '被保存总数'], [6, '被点赞总数']];

async function home() {
  const card = h('div.card');
  const stats = h('div');
  const chartBox = h('div#chart');
  const index = h('select#index-type', {}, INDEX.map(([v, t]) => h('option', { value: v }, t)));
  const days = h('select#days', {}, h('option', { value: 7 }, '近7天'), h('option', { value: 15 }, '近15天'));
  shell('home', h('h2', '首页'), card, h('h2', '数据概览'), stats, h('h2', '趋势'), h('div.toolbar', index, days), chartBox);
  const draw = async () => {
    const d = await call(() => api.post(`${A}/home_page/line_info`, { days: days.value, index_type: index.value }));
    if (!d) return;
    mount(chartBox, lineChart(d.ret_data.map((p) => ({ label: p.statics_date, value: p.value })), { title: `${index.selectedOptions[0].textContent} · ${days.selectedOptions[0].textContent}` }));
  };
  index.onchange = draw;
  days.onchange = draw;
  const [hp, ac] = await Promise.all([call(() => api.get(`${A}/home_page`)), call(() => api.get(`${A}/home_page/acount_data`)), draw()]);
  if (hp) {
    const r = hp.ret_data;
    mount(card, h('div.row', h('div.grow', h('h2', r.company_name), h('div.muted', `开通 ${r.open_up_date} · 到期 ${r.expired_time} · 已用 ${r.used_days} 天 · 剩余 ${r.available_days} 天`)),
      h('div.stat', '已开通名片', h('b', r.mingpian_num)), h('div.stat', '用户', h('b', r.user_count)), h('div.stat', '客户', h('b', r.customer_num))));
  }
  if (ac) {
    const r = ac.ret_data;
    const keys = [['customer_num', '新增客户'], ['follow_num', '跟进'], ['browse_num', '浏览'], ['forward_num', '转发'], ['saved_total_num', '保存电话'], ['praise_sum', '点赞']];
    mount(stats, table([['', (x) => x[0]], ...keys.map(([k, t]) => [t, (x) => String(x[1][k] ?? 0)])],
      [['今天', r.today_data], ['昨天', r.yesterday_data], ['近7天', r.nearly_seven_days], ['近30天', r.nearly_thirty_days], ['累计', r.count_data]]));
  }
}

// ---------- users (ADM-05/04/33/34, ADM-09) ----------

async function users() {
  const name = h('input', { placeholder: '姓名' });
  const status = h('select', {}, h('option', { value: '' }, '全部状态'), h('option', { value: 1 }, '已开通'), h('option', { value: 2 }, '未开通'));
  const list = h('div');
  const progress = h('div.progress', h('div'));
  const load = async () => {
    const d = await call(() => api.get(`${A}/user`, { username: name.value || undefined, status: status.value || undefined }));
    if (!d) return;
    mount(list, h('p.muted', `共 ${d.data_count} 人,可开通名片 ${d.mingpian_available_num} 张`), table([
      ['', (u) => avatar(u.avatar)],
      ['姓名', (u) => u.username], ['职位', (u) => u.position || ''], ['部门', (u) => u.department || ''], ['名片电话', (u) => u.mingpian_phone || ''],
      ['状态', (u) => u.status],
      ['小程序码', (u) => (u.qr_code ? h('img', { src: fileUrl(u.qr_code), style: 'width:48px' }) : '')],
      ['操作', (u) => h('div.row',
        h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/user/update_status/${u.id}`, { status: u.status === '启用' ? 2 : 1 }))) && (toast('已修改'), load()) }, u.status === '启用' ? '停用' : '启用'),
        h('button.ghost.edit', { onclick: () => form.set(u) }, '编辑'),
        h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/user/create_small_program_qr_code/0`, { user_id: u.id }))) && (toast('已生成'), load()) }, '生成小程序码'))],
    ], d.ret_data));
  };
  const uname = h('input#user-name', { placeholder: '姓名' });
  const pos = h('input#user-position', { placeholder: '职位' });
  // Radar users are staff rows too: ADM-30 edits their name and position.
  const form = editor('用户', [field('姓名', uname), field('职位', pos), h('p.muted', '新用户由企业微信通讯录同步或扫码注册审核产生;这里修改姓名与职位。')], {
    id: 'user-save',
    fill: (u) => {
      uname.value = u ? u.username || '' : '';
      pos.value = u ? u.position || '' : '';
    },
    save: async (u) => {
      if (!u) return toast('请先在列表中点「编辑」选择用户', 'error');
      const ok = await call(() => api.post(`${A}/admin_userprofile/update/${u.id}`, { username: uname.value.trim(), position: pos.value.trim() }));
      if (ok) load();
      return ok;
    },
  });
  const sync = async () => {
    const bar = progress.firstChild;
    bar.style.width = '30%';
    const s = api.session;
    const r = await call(() => api.post(`${A}/user/sync_user_tongxunlu/${s.company_id}`));
    bar.style.width = '100%';
    if (r) {
      toast('通讯录同步完成');
      load();
    }
  };
  shell('users', h('h2', '雷达用户'), h('div.toolbar', name, status, h('button', { onclick: load }, '查询'), h('button.ghost', { onclick: sync }, '同步企业微信通讯录'), h('div.grow', progress)), list, form.el);
  await load();
}

async function temp() {
  const list = h('div');
  const qr = h('div');
  const chosen = new Set();
  const load = async () => {
    const d = await call(() => api.get(`${A}/user`, { type: 'temp_user' }));
    if (!d) return;
    chosen.clear();
    mount(list, table([
      ['', (u) => h('input', { type: 'checkbox', onchange: (e) => (e.target.checked ? chosen.add(u.temp_user_id) : chosen.delete(u.temp_user_id)) })],
      ['姓名', (u) => u.username], ['职位', (u) => u.position], ['微信', (u) => u.wechat], ['名片电话', (u) => u.mingpian_phone], ['部门', (u) => u.department], ['提交时间', (u) => u.create_date],
      ['', (u) => h('div.row', h('button.ghost.edit', { onclick: () => form.set(u) }, '编辑'),
        h('button.ghost.danger', { onclick: async () => (await call(() => api.post(`${A}/user/delete/${u.temp_user_id}`, {}, { type: 'temp_user' }))) && load() }, '删除'))],
    ], d.ret_data, '没有待审核的用户'));
  };
  const f = { username: h('input'), position: h('input'), wechat: h('input'), mingpian_phone: h('input') };
  const form = editor('待审核用户', [field('姓名', f.username), field('职位', f.position), field('微信', f.wechat), field('名片电话', f.mingpian_phone)], {
    fill: (u) => {
      for (const [k, el] of Object.entries(f)) el.value = u ? u[k] || '' : '';
    },
    save: async (u) => {
      if (!u) return toast('待审核用户由员工扫码注册产生;请在列表中点「编辑」修改', 'error');
      const ok = await call(() => api.post(`${A}/user/update/${u.temp_user_id}`, Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value.trim()])), { type: 'temp_user' }));
      if (ok) load();
      return ok;
    },
  });
  shell('temp', h('h2', '待审核用户(扫码注册)'),
    h('div.toolbar',
      h('button#approve', { onclick: async () => chosen.size && (await call(() => api.post(`${A}/user/approval_storage_user_info/0`, { user_id_list: JSON.stringify([...chosen]) }))) && (toast('已审核入库'), load()) }, '审核通过所选'),
      h('button.ghost#signup-qr', { onclick: async () => {
        const d = await call(() => api.get(`${A}/user/create_scan_code/0`));
        if (d) mount(qr, h('div.card', h('p', '新员工扫码填写资料,提交后出现在下面的列表:'), h('img', { src: fileUrl(d.qrcode_url), alt: '注册二维码', style: 'width:200px' })));
      } }, '生成注册二维码')),
    qr, list, form.el);
  await load();
}

// ---------- roles and access rules (ADM-20, ADM-24..27) ----------

async function roles() {
  const list = h('div');
  const name = h('input#role-name', { placeholder: '角色名' });
  const rulesBox = h('div#role-rules');
  const form = editor('角色', [field('名称', name), h('div.muted', '权限'), rulesBox], {
    id: 'role-save',
    fill: (r) => {
      name.value = r ? r.role_name : '';
      const on = new Set(r ? r.rules_data.flatMap((p) => [p.selected ? p.parent_rule_id : null, ...p.children_rule_list.filter((c) => c.selected).map((c) => c.children_rule_id)]).filter((x) => x !== null).map(String) : []);
      for (const i of rulesBox.querySelectorAll('input')) i.checked = on.has(i.value);
    },
    save: async (r) => {
      const ids = [...rulesBox.querySelectorAll('input:checked')].map((i) => i.value);
      const form = { name: name.value.trim(), rules_list: JSON.stringify(ids) };
      const ok = await call(() => api.post(r ? `${A}/admin_role/update/${r.role_id}` : `${A}/admin_role/add/0`, form));
      if (ok) load();
      return ok;
    },
  });
  const load = async () => {
    const [d, r] = await Promise.all([call(() => api.get(`${A}/admin_role`)), call(() => api.get(`${A}/access_rules`))]);
    if (r && !rulesBox.children.length) {
      const flat = (rows) => rows.flatMap((x) => [x, ...flat(x.children || x.children_list || [])]);
      const all = flat(r.ret_data || []);
      mount(rulesBox, all.map((x) => h('label', { style: 'display:inline-block;margin-right:12px' }, h('input', { type: 'checkbox', value: x.id || x.rule_id }), ' ', x.name || x.rule_name || x.title)));
    }
    if (d) {
      mount(list, table([['角色', (x) => x.role_name], ['权限', (x) => x.rules_data.flatMap((p) => [p.selected ? p.parent_rule_name : null, ...p.children_rule_list.filter((c) => c.selected).map((c) => c.children_rule_name)]).filter(Boolean).join('、')],
        ['创建时间', (x) => x.create_date], ['', (x) => h('div.row',
          h('button.ghost.edit', { onclick: () => form.set(x) }, '编辑'),
          h('button.ghost.danger', { onclick: async () => confirm(`删除角色「${x.role_name}」?`) && (await call(() => api.post(`${A}/admin_role/delete/${x.role_id}`))) && (toast('已删除'), load()) }, '删除'))]], d.ret_data));
    }
  };
  const rulesList = h('div#access-rules');
  const ruleName = h('input', { placeholder: '权限名称' });
  const rulePath = h('input', { placeholder: 'url_path' });
  const ruleParent = h('select');
  const ruleForm = editor('权限条目', [field('名称', ruleName), field('路径', rulePath), field('上级', ruleParent)], {
    fill: (r) => {
      ruleName.value = r ? r.name : '';
      rulePath.value = r ? r.url_path || '' : '';
      ruleParent.value = r && r.super_id ? String(r.super_id) : '';
    },
    save: async (r) => {
      const f = { name: ruleName.value.trim(), url_path: rulePath.value.trim(), super_id_id: ruleParent.value || undefined };
      const ok = await call(() => api.post(r ? `${A}/access_rules/update/${r.id}` : `${A}/access_rules/add/0/`, f));
      if (ok) loadRules();
      return ok;
    },
  });
  const loadRules = async () => {
    const d = await call(() => api.get(`${A}/access_rules`));
    if (!d) return;
    mount(ruleParent, h('option', { value: '' }, '(顶级)'), d.ret_data.filter((r) => !r.super_id).map((r) => h('option', { value: r.id }, r.name)));
    mount(rulesList, table([['权限', (r) => r.name], ['路径', (r) => r.url_path || ''], ['上级', (r) => r.super_name || ''],
      ['', (r) => h('div.row', h('button.ghost.edit', { onclick: () => ruleForm.set(r) }, '编辑'),
        h('button.ghost.danger', { onclick: async () => confirm(`删除权限「${r.name}」?`) && (await call(() => api.post(`${A}/access_rules/delete/${r.id}`))) && loadRules() }, '删除'))]], d.ret_data));
  };
  shell('roles', h('h2', '角色'), list, form.el, h('h2', '权限条目'), rulesList, ruleForm.el);
  await Promise.all([load(), loadRules()]);
}

// ---------- backend accounts (ADM-28..32) ----------

async function accounts() {
  const list = h('div');
  const login = h('input#account-login', { placeholder: '登录名' });
  const pass = h('input#account-pass', { type: 'password', placeholder: '初始密码(编辑时留空不改)', autocomplete: 'new-password' });
  const uname = h('input#account-name', { placeholder: '姓名' });
  const pos = h('input', { placeholder: '职位' });
  const role = h('select#account-role');
  const s = api.session;
  const form = editor('后台账号', [field('登录名', login), field('密码', pass), field('姓名', uname), field('职位', pos), field('角色', role)], {
    id: 'account-save',
    fill: (u) => {
      login.value = u ? u.login_user || '' : '';
      pass.value = '';
      uname.value = u ? u.username || '' : '';
      pos.value = u ? u.position || '' : '';
      if (u) role.value = String(u.role_id);
    },
    save: async (u) => {
      const f = { login_user: login.value.trim(), password: pass.value || undefined, username: uname.value.trim(), position: pos.value.trim(), role_id: role.value, company_id: u ? u.company_id : s.company_id };
      const ok = await call(() => api.post(u ? `${A}/admin_userprofile/update/${u.id}` : `${A}/admin_userprofile/add/0`, f));
      if (ok) load();
      return ok;
    },
  });
  const load = async () => {
    const d = await call(() => api.get(`${A}/admin_userprofile`));
    if (!d) return;
    mount(list, table([['', (u) => avatar(u.avatar)], ['登录名', (u) => u.login_user || ''], ['姓名', (u) => u.username || ''], ['公司', (u) => u.company_name || ''], ['角色', (u) => u.role_name || ''],
      ['状态', (u) => u.status_text], ['最后登录', (u) => u.last_login_date || ''],
      ['操作', (u) => h('div.row',
        h('button.ghost.edit', { onclick: () => form.set(u) }, '编辑'),
        h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/admin_userprofile/update_status/${u.id}`, { status: u.status === 1 ? 2 : 1 }))) && (toast('已修改'), load()) }, u.status === 1 ? '停用' : '启用'),
        h('button.ghost.danger', { onclick: async () => confirm(`删除账号「${u.login_user || u.username}」?`) && (await call(() => api.post(`${A}/admin_userprofile/delete/${u.id}`))) && (toast('已删除'), load()) }, '删除'))]], d.ret_data));
  };
  shell('accounts', h('h2', '后台账号'), list, form.el);
  const r = await call(() => api.get(`${A}/admin_role`));
  if (r) mount(role, r.ret_data.map((x) => h('option', { value: x.role_id }, x.role_name)));
  await load();
}

// ---------- products (ADM-11..16) with image upload (PUB-01/02) ----------

async function products() {
  const list = h('div');
  const feedback = h('div#feedback');
  const name = h('input#product-name', { placeholder: '产品名称' });
  const price = h('input#product-price', { placeholder: '价格' });
  const reason = h('input#product-reason', { placeholder: '推荐理由' });
  const text = h('textarea#product-text', { rows: 3, cols: 40, placeholder: '产品介绍' });
  const file = h('input#product-image', { type: 'file', accept: 'image/*' });
  const bar = h('div');
  const progress = h('div.progress#upload-progress', bar);
  const preview = h('div#image-preview');
  let cover = null;
  const showCover = () => mount(preview, cover ? h('img', { src: fileUrl(cover), alt: '', style: 'max-width:160px', dataset: { path: cover } }) : null);
  file.onchange = async () => {
    const f = file.files[0];
    if (!f) return;
    bar.style.width = '0';
    const p = await call(() => api.uploadImage(f, { source: 'cover_picture', chunkSize: 64 * 1024, onProgress: (x) => (bar.style.width = `${Math.round(x * 100)}%`) }));
    if (p) {
      cover = p;
      showCover();
    }
  };
  const form = editor('产品', [field('名称', name), field('价格', price), field('推荐理由', reason), field('介绍', text), field('封面图片', file), progress, preview], {
    id: 'product-save',
    fill: async (p) => {
      let one = null;
      if (p) {
        // ADM-12: the whole content (the list carries only the cover).
        const d = await call(() => api.get(`${A}/product/product_single/`, { product_id: p.product_id, product_type: 1 }));
        if (!d || !d.ret_data.length) return;
        one = d.ret_data[0];
      }
      const c = (one && one.content) || {};
      name.value = one ? one.name : '';
      price.value = one ? one.price || '' : '';
      reason.value = one ? one.reason || '' : '';
      text.value = (c.article_data || []).filter((b) => b.type === 'content').map((b) => (b.data || []).join('\n')).join('\n');
      const cd = Array.isArray(c.cover_data) ? c.cover_data : [];
      cover = cd[0] && cd[0].data ? cd[0].data[0] || null : null;
      file.value = '';
      bar.style.width = '0';
      showCover();
    },
    save: async (p) => {
      const content = { cover_data: cover ? [{ type: 'picture_url', data: [cover] }] : [], article_data: [{ type: 'title', data: [name.value] }, ...(cover ? [{ type: 'picture_url', data: [cover] }] : []), { type: 'content', data: [text.value] }] };
      const f = { product_type: 1, name: name.value.trim(), price: price.value.trim(), reason: reason.value.trim(), content: JSON.stringify(content) };
      const ok = await call(() => api.post(p ? `${A}/product/update/${p.product_id}` : `${A}/product/add/0`, f));
      if (ok) load();
      return ok;
    },
  });
  const load = async () => {
    const d = await call(() => api.get(`${A}/product/product_list/`, { product_type: 1, status: undefined }));
    const off = await call(() => api.get(`${A}/product/product_list/`, { product_type: 1, status: 2 }));
    if (!d) return;
    const rows = [...d.ret_data, ...(off ? off.ret_data : [])];
    mount(list, table([
      ['封面', (p) => {
        const c = p.content && p.content.cover_data;
        const arr = Array.isArray(c) ? c : c && c.cover_data;
        const u = arr && arr[0] && arr[0].data && arr[0].data[0];
        return u ? h('img', { src: fileUrl(u), style: 'width:64px' }) : '';
      }],
      ['名称', (p) => p.name], ['价格', (p) => p.price], ['发布人', (p) => p.publisher], ['发布时间', (p) => p.publisher_date], ['状态', (p) => p.status],
      ['推荐指数', (p) => h('select.recommend', { onchange: async (e) => (await call(() => api.post(`${A}/product/recommend_index/${p.product_id}`, { index: e.target.value }))) && (toast('推荐指数已修改'), load()) },
        h('option', { value: '' }, p.recommend_index !== undefined ? String(p.recommend_index) : '设置'), Array.from({ length: 10 }, (_, i) => h('option', { value: 10 - i }, String(10 - i))))],
      ['操作', (p) => h('div.row',
        h('button.ghost.edit', { onclick: () => form.set(p) }, '编辑'),
        h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/product/change_status/${p.product_id}`, { status: p.status_code === 2 ? 1 : 2 }))) && load() }, p.status_code === 2 ? '上架' : '下架'),
        h('button.ghost.danger', { onclick: async () => confirm(`删除「${p.name}」?`) && (await call(() => api.post(`${A}/product/delete/${p.product_id}`))) && load() }, '删除'))],
    ], rows, '还没有产品'));
  };
  const loadFeedback = async () => {
    const d = await call(() => api.get(`${A}/product/feedback_list/`));
    if (!d) return;
    const part = (f, type) => (Array.isArray(f.content) ? f.content : []).filter((c) => c.type === type).flatMap((c) => (Array.isArray(c.data) ? c.data : [c.data]));
    mount(feedback, table([['提交人', (f) => f.user_name || ''], ['类型', (f) => f.problem_type_text || ''], ['内容', (f) => [part(f, 'content').join(' '), part(f, 'picture_url').map((u) => h('img', { src: fileUrl(u), style: 'width:48px;margin:2px' }))]],
      ['电话', (f) => part(f, 'phone').join(' ')], ['公司', (f) => f.company_name || ''], ['状态', (f) => f.status_text],
      ['', (f) => h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/product/change_feedback_status/${f.id}`, { status: f.status === 1 ? 2 : 1 }))) && loadFeedback() }, f.status === 1 ? '标为已处理' : '重新打开')]], d.ret_data, '没有意见反馈'));
  };
  shell('products', h('h2', '公司产品'), list, form.el, h('h2', '意见反馈'), feedback);
  await Promise.all([load(), loadFeedback()]);
}

// ---------- website (ADM-39/40) ----------

async function website() {
  const companyId = api.session.company_id;
  const blocks = h('div');
  let content = [];
  const paint = () => mount(blocks, content.map((b, i) => h('div.card', h('b', b.type === 'guntu' ? '滚动图' : '内容'),
    (b.data || []).map((x) => h('div.row', x.picture_url ? h('img', { src: fileUrl(x.picture_url), style: 'width:120px' }) : null, h('span', Object.entries(x).filter(([k]) => k !== 'picture_url').map(([, v]) => v).join(' ')))),
    h('button.ghost.danger', { onclick: () => { content.splice(i, 1); paint(); } }, '移除'))));
  const file = h('input', { type: 'file', accept: 'image/*' });
  const kind = h('select', {}, h('option', { value: 'guntu' }, '滚动图'), h('option', { value: 'content' }, '内容'));
  const text = h('input', { placeholder: '文字(可选)' });
  const bar = h('div');
  const templates = h('div#templates');
  const tplName = h('input#template-name', { placeholder: '模板名称' });
  // ADM-41..44: a template is a website content to start from; 套用 puts it in the editor above.
  const loadTemplates = async () => {
    const t = await call(() => api.get(`${A}/website_template`));
    if (t) mount(templates, table([['模板', (x) => x.name || `模板${x.id}`], ['内容块', (x) => String((x.template_content || []).length)], ['创建时间', (x) => (x.create_date || '').replace('T', ' ').slice(0, 16)],
      ['', (x) => h('div.row',
        h('button.ghost', { onclick: () => { content = JSON.parse(JSON.stringify(x.template_content || [])); paint(); toast('已套用模板,保存官网后生效'); } }, '套用'),
        h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/website_template/update/${x.id}`, { name: x.name || '', template_content: JSON.stringify(content) }))) && (toast('模板已更新'), loadTemplates()) }, '用当前内容更新'),
        h('button.ghost.danger', { onclick: async () => confirm('删除这个模板?') && (await call(() => api.post(`${A}/website_template/delete/${x.id}`))) && loadTemplates() }, '删除'))]], t.ret_data, '还没有模板'));
  };
  shell('website', h('h2', '公司官网'), blocks,
    h('div.card', h('h2', '添加一块'), kind, ' ', file, ' ', text, h('div.progress', bar), h('button.ghost', { onclick: async () => {
      const f = file.files[0];
      if (!f) return toast('请选择图片', 'error');
      const url = await call(() => api.uploadImage(f, { source: 'cover_picture', onProgress: (x) => (bar.style.width = `${Math.round(x * 100)}%`) }));
      if (!url) return;
      const item = { picture_url: url };
      if (text.value) item.text = text.value;
      content.push({ type: kind.value, data: [item] });
      paint();
    } }, '添加')),
    h('button#website-save', { onclick: async () => (await call(() => api.post(`${A}/website/edit/${companyId}`, { website_content: JSON.stringify(content) }))) && toast('官网已保存') }, '保存官网'),
    h('h2', '官网模板'), templates, h('div.toolbar', tplName, h('button.ghost#template-save', { onclick: async () => (await call(() => api.post(`${A}/website_template/add/0`, { name: tplName.value.trim(), template_content: JSON.stringify(content) }))) && (toast('已存为模板'), (tplName.value = ''), loadTemplates()) }, '把当前内容存为模板')));
  const d = await call(() => api.get(`${A}/website`, { company_id: companyId }));
  if (d && d.ret_data[0]) content = d.ret_data[0].website_content || [];
  paint();
  await loadTemplates();
}

// ---------- plugins (ADM-51, ADM-55, ADM-60) ----------

async function plugins() {
  const cards = h('div');
  const acts = h('div');
  const goods = h('div');
  const title = h('input', { placeholder: '活动标题' });
  shell('plugins', h('h2', '报名活动'), acts, h('div.card.row', title, h('button', { onclick: async () => (await call(() => api.post(`${A}/plugin_report/add/0`, { title: title.value.trim(), is_get_phone_code: false }))) && (toast('已添加'), plugins()) }, '添加活动')),
    h('h2', '插件名片'), cards, h('h2', '商品'), goods);
  const [c, a, g] = await Promise.all([call(() => api.get(`${A}/plugin_mingpian`)), call(() => api.get(`${A}/plugin_report`)), call(() => api.get(`${A}/plugin_goods`))]);
  if (a) mount(acts, table([['标题', (x) => x.title], ['报名人数', (x) => String(x.join_num ?? 0)], ['阅读', (x) => String(x.read_count ?? 0)], ['创建时间', (x) => x.create_date],
    ['', (x) => h('button.ghost.danger', { onclick: async () => (await call(() => api.post(`${A}/plugin_report/delete/${x.id}`))) && plugins() }, '删除')]], a.ret_data));
  if (c) mount(cards, table([['名称', (x) => x.name || x.username || ''], ['电话', (x) => x.phone || ''], ['创建时间', (x) => x.create_date || '']], c.ret_data));
  if (g) mount(goods, table([['名称', (x) => x.goods_name || x.name || ''], ['创建时间', (x) => x.create_date || '']], g.ret_data));
}

// ---------- companies and billing (ADM-46..48) ----------

const PLAN = [[1, '一个月'], [2, '二个月'], [3, '三个月'], [4, '一年'], [5, '二年']];

async function companies() {
  const list = h('div');
  const name = h('input#company-name', { placeholder: '公司名称' });
  const start = h('input#company-start', { type: 'date' });
  const len = h('select#company-length', {}, PLAN.map(([v, t]) => h('option', { value: v }, t)));
  const quota = h('input#company-quota', { type: 'number', min: 0, style: 'width:6em' });
  const form = editor('公司', [field('名称', name), field('计费开始', start), field('开通时长', len), field('可开通名片数', quota), h('p.muted', '到期日按计费开始 + 开通时长计算(ADM-47/48)。')], {
    id: 'company-save',
    fill: (c) => {
      name.value = c ? c.name : '';
      start.value = c && c.charging_start_time ? c.charging_start_time.slice(0, 10) : new Date().toISOString().slice(0, 10);
      len.value = String(c && c.open_length_time ? c.open_length_time : 1);
      quota.value = String(c ? c.mingpian_available_num : 10);
    },
    save: async (c) => {
      const f = { name: name.value.trim(), charging_start_time: start.value, open_length_time: len.value, mingpian_available_num: quota.value };
      const ok = await call(() => api.post(c ? `${A}/company/update_company/${c.company_id}` : `${A}/company/add_company/0`, f));
      if (ok) load();
      return ok;
    },
  });
  const load = async () => {
    const d = await call(() => api.get(`${A}/company`));
    if (d) mount(list, table([['公司', (x) => x.name], ['已开通/可开通名片', (x) => h('span.quota', `${x.user_count}/${x.mingpian_available_num}`)], ['客户', (x) => String(x.customer_num)],
      ['计费开始', (x) => x.charging_start_time || ''], ['开通时长', (x) => (PLAN.find(([v]) => v === x.open_length_time) || [0, ''])[1]], ['到期', (x) => x.account_expired_time || ''],
      ['已用/剩余天数', (x) => `${x.used_days ?? ''} / ${x.available_days}`], ['', (x) => h('button.ghost.edit', { onclick: () => form.set(x) }, '编辑')]], d.ret_data));
  };
  const own = api.session.company_id;
  const wecom = h('div#wecom');
  const corp = h('input', { placeholder: 'CorpID' });
  const txl = h('input', { placeholder: '通讯录 Secret', type: 'password', autocomplete: 'off' });
  const appType = h('select', {}, h('option', { value: 1 }, 'AI雷达'), h('option', { value: 2 }, 'Boss雷达'));
  const agent = h('input', { placeholder: 'AgentId' });
  const secret = h('input', { placeholder: '应用 Secret', type: 'password', autocomplete: 'off' });
  const loadWecom = async () => {
    const d = await call(() => api.get(`${A}/company/author_status`, { company_id: own }));
    if (d) mount(wecom, table([['企业微信', (x) => x.name], ['验证', (x) => (x.is_validate ? '已验证' : '未配置或未通过')]], d.ret_data));
  };
  shell('companies', h('h2', '公司与计费'), list, form.el,
    h('h2', '本公司的企业微信'), wecom,
    h('div.card', h('div.toolbar', corp, txl, h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/company/update_tongxunlu/${own}`, { corp_id: corp.value.trim(), tongxunlu_secret: txl.value }))) && (toast('已保存'), loadWecom()) }, '保存通讯录')),
      h('div.toolbar', appType, agent, secret, h('button.ghost', { onclick: async () => (await call(() => api.post(`${A}/company/update_agent/${own}`, { app_type: appType.value, agent_id: agent.value.trim(), app_secret: secret.value }))) && (toast('已保存'), loadWecom()) }, '保存应用')),
      h('p.muted', '先保存通讯录 Secret,再保存 AI雷达 / Boss雷达 应用;保存时向企业微信验证。')));
  form.set(null);
  await Promise.all([load(), loadWecom()]);
}

// ---------- mini-program authorization (ADM-73/74/76) ----------

async function xcx() {
  const box = h('div.card');
  shell('xcx', h('h2', '小程序授权'), box);
  const d = await call(() => api.get(`${A}/xcx_auth_process`));
  if (!d) return;
  const r = d.ret_data || {};
  const appid = h('input', { placeholder: '小程序 AppID', value: r.authorization_appid || '' });
  const link = h('div');
  mount(box,
    h('p', d.step === '' ? '已完成授权' : `当前步骤: ${d.step}`),
    r.name ? h('div.row', r.head_img ? avatar(r.head_img) : null, h('div', h('b', r.name), h('div.muted', `${r.principal_name || ''} · ${r.service_category || ''}`), h('div.muted', `线上版本 ${r.version_num || '—'}`))) : null,
    h('h2', '1. 填写 AppID'), h('div.row', appid, h('button', { onclick: async () => (await call(() => api.post(`${A}/xcx_auth_process/update/app_id`, { authorization_appid: appid.value.trim() }))) && (toast('已保存'), xcx()) }, '保存')),
    h('h2', '2. 授权给第三方平台'), h('button.ghost', { onclick: async () => {
      const url = await call(() => api.post(`${A}/open_weixin/create_grant_url`));
      if (url) mount(link, h('p', '请小程序管理员打开并扫码授权: ', h('a', { href: url, target: '_blank', rel: 'noopener' }, url)));
    } }, '生成授权链接'), link,
    h('h2', '3. 刷新小程序信息'), h('button.ghost', { onclick: async () => (await call(() => api.get(`${A}/xcx_auth_process/update/xcx_get_authorizer_info`))) && (toast('已刷新'), xcx()) }, '刷新'));
}

// ---------- batch release of mini-program code (ADM-79..86, batch progress) ----------

const OPS = [
  ['提交代码', 'upload_code'],
  ['提交审核', 'submit_audit'],
  ['审核撤回', 'undocode_audit'],
  ['发布按钮', 'relase_code'],
  ['版本回退', 'revert_code_release'],
];

async function release() {
  const list = h('div');
  const chosen = new Set();
  const tpl = h('select#template');
  const version = h('input', { placeholder: '版本号,如 1.0.1' });
  const desc = h('input', { placeholder: '版本描述' });
  const bar = h('div');
  const progress = h('div.progress#release-progress', bar);
  const status = h('div.muted#release-status');
  const load = async () => {
    const d = await call(() => api.get(`${A}/xcx_app`));
    if (!d) return;
    chosen.clear();
    mount(list, table([
      ['', (x) => h('input', { type: 'checkbox', onchange: (e) => (e.target.checked ? chosen.add(x.id) : chosen.delete(x.id)) })],
      ['公司', (x) => x.company_name], ['AppID', (x) => x.appid || ''], ['版本', (x) => x.version_num || ''], ['状态', (x) => x.status_text],
      ['时间', (x) => x.status_time || ''], ['原因 / 错误', (x) => [x.reason ? h('div', { style: 'white-space:pre-wrap' }, String(x.reason).replace(/<br\s*\/?>/g, '\n')) : null, x.errmsg ? h('div.err', `${x.errcode}: ${x.errmsg}`) : null]],
      ['体验码', (x) => (x.experience_qrcode ? h('img', { src: fileUrl(x.experience_qrcode), style: 'width:56px' }) : '')],
      ['可用操作', (x) => (x.buttons || []).join('、')],
    ], d.ret_data, '还没有授权的小程序'));
  };
  /** Follows a batch until it is done: a progress bar of done + skipped + failed of total. */
  const follow = async (batchId) => {
    for (;;) {
      const b = await call(() => api.get(`${A}/dai_xcx/batch/${batchId}`));
      if (!b) return;
      const finished = (b.done || 0) + (b.skipped || 0) + (b.failed || 0);
      bar.style.width = `${b.total ? Math.round((finished * 100) / b.total) : 100}%`;
      status.textContent = `批次 ${b.batch_id} · ${b.op}: 完成 ${b.done} · 跳过 ${b.skipped} · 失败 ${b.failed} · 共 ${b.total}${b.status === 'done' ? ' · 已结束' : ' · 进行中…'}`;
      await load();
      if (b.status === 'done') return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const run = async (op) => {
    if (!chosen.size) return toast('请先选择小程序', 'error');
    const form = { app_ids_list: JSON.stringify([...chosen]) };
    if (op === 'upload_code') {
      Object.assign(form, { template_id: tpl.value, user_version: version.value.trim(), user_desc: desc.value.trim() });
    }
    bar.style.width = '0';
    status.textContent = '已提交…';
    let batch = null;
    try {
      const d = await api.post(`${A}/dai_xcx/${op}`, form);
      batch = d && d.batch_id;
    } catch (e) {
      // A batch that ended with a failed app answers its errcode and msg: show it,
      // and still show the batch's per-app outcome.
      $('#error').textContent = e.message;
      batch = e.data && e.data.batch_id;
    }
    if (batch) await follow(batch);
    else await load();
  };
  shell('release', h('h2', '代小程序发布'),
    h('div.card', h('div.toolbar', h('span', '代码模板'), tpl, version, desc),
      h('div.toolbar', OPS.map(([t, op]) => h('button.ghost', { onclick: () => run(op) }, t)),
        h('button.ghost', { onclick: async () => (await call(() => api.get(`${A}/dai_xcx/get_latest_audit_status`))) && load() }, '刷新审核状态')),
      progress, status),
    list);
  const t = await call(() => api.get(`${A}/dai_xcx/template_list`));
  if (t) mount(tpl, (t.template_list || []).map((x) => h('option', { value: x.template_id }, `${x.template_id} · ${x.user_version} · ${x.user_desc}`)));
  await load();
}

// ---------- articles (ADM-64..68, publish) ----------

async function articles() {
  const list = h('div');
  const spread = h('div#article-spread');
  const filterTitle = h('input', { placeholder: '标题' });
  const filterStatus = h('select', {}, h('option', { value: '' }, '全部'), h('option', { value: 1 }, '已发'), h('option', { value: 2 }, '未发'));
  const title = h('input#article-title', { placeholder: '标题', style: 'width:28em' });
  const summary = h('input#article-summary', { placeholder: '摘要', style: 'width:28em' });
  const text = h('textarea#article-text', { rows: 8, cols: 60, placeholder: '正文(空行分段)' });
  const ads = h('input#article-ads', { placeholder: '文中广告(可选)', style: 'width:28em' });
  const file = h('input#article-image', { type: 'file', accept: 'image/*' });
  const bar = h('div');
  const preview = h('div#article-preview');
  const tagsBox = h('div#article-tags');
  let coverPath = null;
  let tags = [];
  const showCover = () => mount(preview, coverPath ? h('img', { src: fileUrl(coverPath), alt: '', style: 'max-width:160px', dataset: { path: coverPath } }) : null);
  file.onchange = async () => {
    const f = file.files[0];
    if (!f) return;
    bar.style.width = '0';
    const p = await call(() => api.uploadImage(f, { source: 'cover_picture', chunkSize: 64 * 1024, onProgress: (x) => (bar.style.width = `${Math.round(x * 100)}%`) }));
    if (p) {
      coverPath = p;
      showCover();
    }
  };
  // The body as rich content (API.md 1.11): one paragraph per block; the cover is `cover_picture`.
  const toContent = () => JSON.stringify({ cover_data: coverPath ? [{ type: 'picture_url', data: [coverPath] }] : [], article_data: [...text.value.split(/\n\s*\n/).map((t) => t.trim()).filter(Boolean).map((t) => ({ type: 'content', data: [t] }))] });
  const fromContent = (c) => {
    try {
      const o = JSON.parse(c);
      return (o.article_data || []).filter((b) => b.type !== 'picture_url').map((b) => (b.data || []).join('\n')).join('\n\n');
    } catch {
      return c || '';
    }
  };
  const form = editor('文章', [field('标题', title), field('摘要', summary), field('封面', file), h('div.progress', bar), preview, field('正文', text), field('广告', ads), h('div', h('span.muted', '标签: '), tagsBox)], {
    id: 'article-save',
    fill: async (a) => {
      let full = a;
      if (a) {
        const d = await call(() => api.get(`${A}/article/myarticle/${a.id}`));
        if (!d) return;
        full = d.ret_data[0];
      }
      title.value = full ? full.title : '';
      summary.value = full ? full.summary || '' : '';
      text.value = full ? fromContent(full.content) : '';
      ads.value = full ? full.insert_ads || '' : '';
      coverPath = full ? full.cover_url || null : null;
      file.value = '';
      bar.style.width = '0';
      showCover();
      const on = new Set((full ? full.tag_list : []).map((t) => t.id));
      for (const i of tagsBox.querySelectorAll('input')) i.checked = on.has(Number(i.value));
    },
    save: async (a) => {
      const f = { title: title.value.trim(), summary: summary.value.trim(), content: toContent(), cover_picture: coverPath || '', insert_ads: ads.value.trim(), tags_id_list: JSON.stringify([...tagsBox.querySelectorAll('input:checked')].map((i) => Number(i.value))) };
      const ok = await call(() => api.post(a ? `${A}/article/update/${a.id}` : `${A}/article/add/0`, f));
      if (ok) load();
      return ok;
    },
  });
  const showSpread = async (a) => {
    const [stay, top, tree] = await Promise.all([
      call(() => api.get(`${A}/article/stay_distribution/${a.id}`)),
      call(() => api.get(`${A}/article/top_spreaders/${a.id}`, { length: 10 })),
      call(() => api.get(`${A}/article/forward_tree/${a.id}`, { current_page: 1, length: 200 })),
    ]);
    if (!stay) return;
    mount(spread, h('h2', `「${a.title}」的传播`), h('div.card',
      h('div.row', h('div.stat', '读者', h('b', stay.reader_count)), h('div.stat', '阅读次数', h('b', stay.read_count)), h('div.stat', '转发', h('b', stay.forward_count)), h('div.stat', '读完', h('b', stay.finished)), h('div.stat', '平均阅读(秒)', h('b', stay.avg_stay_time))),
      table(stay.buckets.map((b) => [b.bucket, () => String(b.count)]), [{}]),
      h('h2', '传播最广的客户'), table([['客户', (n) => n.customer_name || `客户${n.customer_id}`], ['层级', (n) => String(n.level)], ['带来读者', (n) => String(n.reach)], ['直接转发', (n) => String(n.children)]], top ? top.ret_data : [], '还没有客户带来新读者'),
      h('h2', '转发树'), table([['客户', (n) => h('span', { style: `padding-left:${(n.level - 1) * 20}px` }, n.customer_name || `客户${n.customer_id}`)], ['层级', (n) => String(n.level)], ['阅读', (n) => String(n.read_count)], ['停留(秒)', (n) => String(n.stay_time)], ['带来读者', (n) => String(n.reach)]], tree ? tree.ret_data : [], '还没有读者')));
    spread.scrollIntoView({ block: 'start' });
  };
  const load = async () => {
    const d = await call(() => api.get(`${A}/article/myarticle_list`, { title: filterTitle.value.trim() || undefined, status: filterStatus.value || undefined }));
    if (!d) return;
    mount(list, table([
      ['封面', (a) => (a.cover_url ? h('img', { src: fileUrl(a.cover_url), style: 'width:64px' }) : '')],
      ['标题', (a) => a.title], ['标签', (a) => (a.tag_list || []).map((t) => h('span.pill', t.name))], ['状态', (a) => h('span.status', a.status)],
      ['阅读', (a) => String(a.read_count)], ['转发', (a) => String(a.forward_count)], ['作者', (a) => a.author || ''], ['创建时间', (a) => (a.create_date || '').replace('T', ' ').slice(0, 16)],
      ['操作', (a) => h('div.row',
        h('button.ghost.publish', { onclick: async () => (await call(() => api.post(`${A}/article/publish/${a.id}`, { status: a.status_code === 1 ? 2 : 1 }))) && (toast(a.status_code === 1 ? '已撤回' : '已发布'), load()) }, a.status_code === 1 ? '撤回' : '发布'),
        h('button.ghost.edit', { onclick: () => form.set(a) }, '编辑'),
        h('button.ghost', { onclick: () => showSpread(a) }, '传播'),
        h('button.ghost.danger', { onclick: async () => confirm(`删除「${a.title}」?`) && (await call(() => api.post(`${A}/article/delete/${a.id}`))) && load() }, '删除'))],
    ], d.ret_data, '还没有文章'));
  };
  shell('articles', h('h2', '公众号文章'), h('div.toolbar', filterTitle, filterStatus, h('button', { onclick: load }, '查询')), list, spread, form.el);
  const t = await call(() => api.get(`${A}/article_tag`));
  tags = t ? t.ret_data : [];
  mount(tagsBox, tags.length ? tags.map((x) => h('label', { style: 'display:inline-block;margin-right:12px' }, h('input', { type: 'checkbox', value: x.id }), ' ', x.name)) : h('span.muted', '还没有标签(在「文章标签」里添加)'));
  await load();
}

// ---------- article tags (ADM-69..72) ----------

async function articleTags() {
  const list = h('div');
  const name = h('input#tag-name', { placeholder: '标签名' });
  const form = editor('标签', [field('名称', name)], {
    id: 'tag-save',
    fill: (t) => (name.value = t ? t.name : ''),
    save: async (t) => {
      const ok = await call(() => api.post(t ? `${A}/article_tag/update/${t.id}` : `${A}/article_tag/add/0`, { tag_name: name.value.trim() }));
      if (ok) load();
      return ok;
    },
  });
  const load = async () => {
    const d = await call(() => api.get(`${A}/article_tag`));
    if (d) mount(list, table([['标签', (t) => t.name], ['', (t) => h('div.row', h('button.ghost.edit', { onclick: () => form.set(t) }, '改名'),
      h('button.ghost.danger', { onclick: async () => confirm(`删除标签「${t.name}」?`) && (await call(() => api.post(`${A}/article_tag/delete/${t.id}`))) && load() }, '删除'))]], d.ret_data, '还没有标签'));
  };
  shell('article_tags', h('h2', '文章标签'), list, form.el);
  await load();
}

// ---------- talk scripts (话术库, ADM-89..96) ----------

async function talk() {
  const groupsBox = h('div#talk-groups');
  const phrasesBox = h('div#talk-phrases');
  const groupName = h('input#talk-group-name', { placeholder: '分组名' });
  const words = h('textarea#talk-words', { rows: 3, cols: 50, placeholder: '话术内容' });
  const groupSel = h('select#talk-group');
  const filter = h('select#talk-filter');
  let groups = [];
  const groupForm = editor('分组', [field('名称', groupName)], {
    id: 'talk-group-save',
    fill: (g) => (groupName.value = g ? g.groupName : ''),
    save: async (g) => {
      const ok = await call(() => api.post(g ? `${A}/talkGroupManageOper/update/${g.id}` : `${A}/talkGroupManageOper/add/0`, { groupName: groupName.value.trim() }));
      if (ok) loadGroups();
      return ok;
    },
  });
  const phraseForm = editor('话术', [field('分组', groupSel), field('内容', words)], {
    id: 'talk-phrase-save',
    fill: (p) => {
      words.value = p ? p.contentWords : '';
      if (p) groupSel.value = String(p.talkGroupId);
    },
    save: async (p) => {
      const ok = await call(() => api.post(p ? `${A}/speechDetailsManageOper/update/${p.id}` : `${A}/speechDetailsManageOper/add/0`, { contentWords: words.value.trim(), talkGroupName: groupSel.value }));
      if (ok) loadPhrases();
      return ok;
    },
  });
  const loadPhrases = async () => {
    const d = await call(() => api.get(`${A}/speechDetailsManageShow`, { talkGroupId: filter.value || undefined }));
    if (d) mount(phrasesBox, table([['话术', (p) => h('div', { style: 'white-space:pre-wrap' }, p.contentWords)], ['分组', (p) => p.talkGroupName], ['发送次数', (p) => String(p.sendNum)], ['创建时间', (p) => p.createDate],
      ['', (p) => h('div.row', h('button.ghost.edit', { onclick: () => phraseForm.set(p) }, '编辑'),
        h('button.ghost.danger', { onclick: async () => confirm('删除这条话术?') && (await call(() => api.get(`${A}/speechDetailsManageOper/delete/${p.id}`))) && loadPhrases() }, '删除'))]], d.otherList, '还没有话术'));
  };
  const loadGroups = async () => {
    const d = await call(() => api.get(`${A}/talkGroupManageShow`));
    if (!d) return;
    groups = d.otherList;
    const keep = filter.value;
    mount(groupSel, groups.map((g) => h('option', { value: g.id }, g.groupName)));
    mount(filter, h('option', { value: '' }, '全部分组'), groups.map((g) => h('option', { value: g.id }, g.groupName)));
    filter.value = keep;
    mount(groupsBox, table([['分组', (g) => g.groupName], ['创建人', (g) => g.userProfile || ''], ['创建时间', (g) => g.createDate],
      ['', (g) => h('div.row', h('button.ghost.edit', { onclick: () => groupForm.set(g) }, '改名'),
        h('button.ghost.danger', { onclick: async () => confirm(`删除分组「${g.groupName}」?`) && (await call(() => api.get(`${A}/talkGroupManageOper/delete/${g.id}`))) && loadGroups() }, '删除'))]], groups, '还没有分组'));
    loadPhrases();
  };
  filter.onchange = loadPhrases;
  shell('talk', h('h2', '话术分组'), groupsBox, groupForm.el, h('h2', '话术'), h('div.toolbar', filter), phrasesBox, phraseForm.el,
    h('p.muted', '销售在工作台聊天里搜索并发送话术(info_type 1),发送次数自动累计。'));
  await loadGroups();
}

// ---------- official-account authorization (ADM-78/87/88) ----------

async function gzh() {
  const box = h('div.card#gzh-box');
  shell('gzh', h('h2', '公众号授权'), box);
  const d = await call(() => api.get(`${A}/gzh_auth_process`));
  if (!d) return;
  const r = d.ret_data || {};
  const appid = h('input#gzh-appid', { placeholder: '公众号 AppID', value: r.authorization_appid || '' });
  const link = h('div');
  mount(box,
    h('p#gzh-step', d.step === '' ? '已完成授权' : `当前步骤: ${d.step}`),
    r.name ? h('div.row', r.head_img ? avatar(r.head_img) : null, h('div', h('b', r.name), h('div.muted', `${r.principal_name || ''} · ${r.service_category || ''}${r.verify_type_info ? ' · 已认证' : ''}`))) : null,
    h('h2', '1. 填写 AppID'), h('div.row', appid, h('button#gzh-appid-save', { onclick: async () => (await call(() => api.post(`${A}/gzh_auth_process/update/app_id`, { authorization_appid: appid.value.trim() }))) && (toast('已保存'), gzh()) }, '保存')),
    h('h2', '2. 授权给第三方平台'), h('button.ghost', { onclick: async () => {
      const url = await call(() => api.post(`${A}/open_weixin_gongzhonghao/create_grant_url`));
      if (url) mount(link, h('p', '请公众号管理员打开并扫码授权: ', h('a', { href: url, target: '_blank', rel: 'noopener' }, url)));
    } }, '生成授权链接'), link);
}

route();
