// Small building blocks shared by the pages: tables, forms, messages.
import { h, clear } from './dom.js';

export function section(title, ...kids) {
  return h('section', { class: 'card' }, h('h2', null, title), ...kids);
}

// columns: [{label, get(row) -> text | Node}]
export function table(columns, rows, opts = {}) {
  if (!rows.length) return h('p', { class: 'muted' }, opts.empty || 'None yet.');
  return h('div', { class: 'scroll' },
    h('table', { class: 'grid', 'data-table': opts.name },
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', null, rows.map((r) => h('tr', { 'data-name': r.name || r.id || null },
        columns.map((c) => h('td', null, c.get(r))))))));
}

// An error or notice line; text only.
export function message(el, kind, text) {
  clear(el);
  el.className = 'msg ' + kind;
  if (text) el.append(text);
}

export function errorText(e) {
  return e && e.code ? `${e.message} (${e.code})` : String(e && e.message ? e.message : e);
}

// fields: [{name, label, type?, placeholder?, options?: [[value, label]], required?, value?}]
// onSubmit(values) may throw an ApiError: its message is shown as text.
export function form(name, fields, submitLabel, onSubmit) {
  const msg = h('p', { class: 'msg', role: 'alert', 'aria-live': 'polite' });
  const inputs = {};
  const rows = fields.map((f) => {
    const id = `f-${name}-${f.name}`;
    let input;
    if (f.options) {
      input = h('select', { id, name: f.name, required: f.required },
        f.options.map(([v, l]) => h('option', { value: v }, l)));
    } else {
      input = h('input', {
        id, name: f.name, type: f.type || 'text', placeholder: f.placeholder,
        required: f.required, autocomplete: 'off', spellcheck: 'false',
      });
    }
    if (f.value !== undefined) input.value = f.value;
    inputs[f.name] = input;
    return h('label', { for: id }, h('span', null, f.label), input);
  });
  const btn = h('button', { type: 'submit' }, submitLabel);
  const el = h('form', { class: 'form', 'data-form': name, novalidate: true }, rows, btn, msg);
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = {};
    for (const [k, i] of Object.entries(inputs)) values[k] = i.value.trim();
    btn.disabled = true;
    message(msg, '', '');
    try {
      const note = await onSubmit(values);
      if (note !== null) message(msg, 'ok', note || 'Done.'); // null: the result speaks
    } catch (e) {
      message(msg, 'error', errorText(e));
    } finally {
      btn.disabled = false;
    }
  });
  el.inputs = inputs;
  return el;
}

// A button that runs an action and reports its error next to it.
export function action(label, fn, opts = {}) {
  const b = h('button', { type: 'button', class: opts.danger ? 'danger' : null, 'data-action': opts.name || label }, label);
  b.addEventListener('click', async () => {
    if (opts.confirm && !window.confirm(opts.confirm)) return;
    b.disabled = true;
    try {
      await fn();
    } catch (e) {
      const m = h('span', { class: 'msg error', role: 'alert' }, errorText(e));
      b.after(m);
      setTimeout(() => m.remove(), 8000);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

// Something shown once (API keys, enrollment tokens).
export function secretBox(title, parts) {
  return h('div', { class: 'secret', role: 'status', 'data-secret': title },
    h('strong', null, title),
    h('p', { class: 'muted' }, 'Shown once: copy it now. Only its hash is kept.'),
    parts.map(([label, text, id]) => h('div', { class: 'secret-row' },
      h('span', null, label),
      h('pre', { id }, text),
      h('button', {
        type: 'button',
        onclick: async (ev) => {
          try {
            await navigator.clipboard.writeText(text);
            ev.target.textContent = 'Copied';
          } catch (e) {
            ev.target.textContent = 'Select and copy';
          }
        },
      }, 'Copy'))));
}

export function byId(rows) {
  const m = new Map();
  for (const r of rows) m.set(r.id, r);
  return m;
}

export function nameOf(map, id) {
  const r = map.get(id);
  return r ? r.name : id;
}
