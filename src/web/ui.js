// ui.js — small DOM helpers shared by the pages (no framework).
import { fileUrl } from './zgld.js';

/** h('div.card#id', {onclick, class, ...attrs}, ...children): builds an element. */
export function h(tag, attrs, ...children) {
  const [, name, rest] = /^([a-z0-9]+)(.*)$/i.exec(tag);
  const el = document.createElement(name);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  // Anything but a plain object (a child, a text, a number — even 0) is the first child.
  if (attrs !== undefined && attrs !== null && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') for (const c of String(v).split(/\s+/)) c && el.classList.add(c);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && k !== 'list' && k !== 'type') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const DEFAULT_AVATAR = 'data:image/svg+xml,' + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" fill="#c9d6ea"/><circle cx="20" cy="15" r="7" fill="#fff"/><path d="M6 38c2-9 8-13 14-13s12 4 14 13z" fill="#fff"/></svg>');

/** An avatar `<img>` for a stored path or URL (a grey circle when there is none). */
export function avatar(path, cls = 'avatar') {
  // The legacy default avatar path (statics/imgs/setAvator.jpg) is usually not a stored file.
  const real = path && !/setAvator\.jpg$/.test(path);
  const img = h('img.' + cls.trim().split(/\s+/).join('.'), { src: real ? fileUrl(path) : DEFAULT_AVATAR, alt: '', loading: 'lazy' });
  img.onerror = () => (img.src = DEFAULT_AVATAR);
  return img;
}

let toastTimer;
/** Shows a message (the server's `msg` for errors) at the bottom of the screen. */
export function toast(text, kind = 'info') {
  let t = $('#toast');
  if (!t) {
    t = h('div#toast', { role: 'status' });
    document.body.append(t);
  }
  t.textContent = text;
  t.className = 'show ' + kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.className = ''), kind === 'error' ? 6000 : 2500);
}

/** Runs `fn`; an error shows its `msg` (the server's) and is returned as null. */
export async function attempt(fn) {
  try {
    return await fn();
  } catch (e) {
    toast(e.message || String(e), 'error');
    return null;
  }
}

/** `2018-06-13T11:49:57.000` → `06-13 11:49` (today: `11:49`). */
export function when(s) {
  if (!s) return '';
  const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)/.exec(s);
  if (!m) return s;
  const now = new Date();
  const today = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
  return `${m[1]}-${m[2]}-${m[3]}` === today ? `${m[4]}:${m[5]}` : `${m[2]}-${m[3]} ${m[4]}:${m[5]}`;
}

/** Query-string parameter of the page. */
export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

/**
 * Rich content (API.md 1.11: `{cover_data, article_data: [{type: title|content|picture_url, data}]}`,
 * as an object or as the JSON string of an article) as elements; any other text as paragraphs.
 */
export function richContent(content) {
  let c = content;
  if (typeof c === 'string') {
    try {
      c = JSON.parse(c);
    } catch {
      c = null;
    }
  }
  const blocks = c && Array.isArray(c.article_data) ? c.article_data : null;
  if (!blocks) return String(typeof content === 'string' ? content : '').split(/\n+/).filter(Boolean).map((t) => h('p', t));
  return blocks.map((b) => {
    const data = Array.isArray(b.data) ? b.data : [b.data];
    if (b.type === 'picture_url') return data.filter(Boolean).map((u) => h('img', { src: fileUrl(String(u)), alt: '' }));
    if (b.type === 'title') return h('h2', data.join(' '));
    return data.join('\n').split(/\n+/).filter(Boolean).map((t) => h('p', t));
  });
}
