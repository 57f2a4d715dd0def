// The admin console (/console/): company admins and the platform operator.
import { Client } from '/web/zgld.js';
import { h, $, mount } from '/web/ui.js';

const api = new Client({ storageKey: 'zgld.console' });
mount($('#app'), h('div.card', api.signedIn ? '管理后台' : '请登录'));
