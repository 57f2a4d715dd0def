// The page the sign-up QR opens (/scan_code_add_user, ADM-09 → ADM-10; docs/signup-and-sync.md):
// a new employee fills in their card details, which wait in the console's 待审核用户 until an
// admin approves them (ADM-38). The QR's URL carries its registration credential
// (`rand_str`, `timestamp`, `user_id`), sent as it is: it is not a login and signs nothing else.
import { Client } from '/web/zgld.js';
import { h, $, mount } from '/web/ui.js';

const api = new Client({ storageKey: 'zgld.signup' });
const app = $('#app');
const q = new URLSearchParams(location.search);
const credential = { rand_str: q.get('rand_str'), timestamp: q.get('timestamp'), user_id: q.get('user_id') };

function main() {
  if (!credential.rand_str || !credential.timestamp || !credential.user_id) {
    return mount(app, h('header.m-head', h('h1.grow', '员工注册')), h('div.card', '链接不完整:请用管理员给的注册二维码打开。'));
  }
  const fields = [['username', '姓名'], ['position', '职位'], ['wechat', '微信号'], ['wechat_phone', '微信绑定的手机号'], ['mingpian_phone', '名片上的电话']];
  const inputs = Object.fromEntries(fields.map(([k, t]) => [k, h(`input#signup-${k.replace('_', '-')}`, { placeholder: t, autocomplete: 'off' })]));
  const err = h('div.err#signup-error');
  const form = h('form.card', { onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api.request('POST', '/zhugeleida/admin/user/scan_code_to_add_user/0', { signed: false, query: credential, form: Object.fromEntries(fields.map(([k]) => [k, inputs[k].value.trim()])) });
    } catch (x) {
      err.textContent = x.message;
      return;
    }
    mount(app, h('header.m-head', h('h1.grow', '员工注册')), h('div.card#signup-done', h('h2', '提交成功'), h('p', '管理员审核通过后,你的名片就开通了。')));
  } }, h('p.muted', '填写你的名片信息,提交后由管理员审核。'), fields.map(([k, t]) => h('label', h('span', t), inputs[k])), err, h('button#signup-submit', { type: 'submit' }, '提交'));
  mount(app, h('header.m-head', h('h1.grow', '员工注册')), form);
}

main();
