// ui: small DOM and formatting helpers the pages share.

import { adminToken } from "./api.js";

// h("a.badge", {href}, "text", child...): an element; attributes starting
// with "on" are listeners; null/false children are skipped.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className += (el.className ? " " : "") + v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

// Replace el's children, with h's rules (null and false are skipped).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), "Kiln"].join(" · ");
}

export function fmtInt(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
}

// "1 release", "2 releases" (n formatted with separators).
export function plural(n, word) {
  return `${fmtInt(n)} ${word}${Number(n) === 1 ? "" : "s"}`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${units[i]}`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function ago(ts) {
  if (!ts) return "–";
  const s = Math.round((Date.now() - Date.parse(ts)) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

// A relative time with the exact UTC time on hover.
export function time(ts) {
  if (!ts) return h("span.muted", "–");
  return h("time", { datetime: ts, title: ts.replace("T", " ").replace("Z", " UTC") }, ago(ts));
}

export function badge(state, href, title, text) {
  const label = text || (state === "none" ? "not built" : state);
  return href ? h("a.badge", { class: state, href, title }, label)
    : h("span.badge", { class: state, title }, label);
}

export function errorBox(err) {
  const msg = err && err.message ? err.message : String(err);
  const status = err && err.status ? ` (${err.status})` : "";
  return h("div.alert", { role: "alert" }, `Error${status}: ${msg}`);
}

export function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ""; }, 2500);
}

// A button that copies text; the clipboard API needs a secure context, so
// fall back to selecting the text for the reader to copy.
export function copyButton(text, label = "Copy", target) {
  return h("button.small", {
    type: "button",
    "aria-label": `${label}: ${text}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast("Copied");
      } catch {
        if (target) window.getSelection().selectAllChildren(target);
        toast("Selected: press Ctrl+C to copy");
      }
    },
  }, label);
}

export function isAdmin() {
  return adminToken() !== "";
}

// A table: columns [{label, num, cls}], rows of arrays of cells (a <td> is
// taken as it is).
export function table(columns, rows, empty = "Nothing here.") {
  if (!rows.length) return h("div.table-wrap", h("p.empty", empty));
  return h("div.table-wrap", h("table",
    h("thead", h("tr", columns.map((c) => h("th", { class: [c.num && "num", c.cls].filter(Boolean).join(" ") || null, scope: "col" }, c.label)))),
    h("tbody", rows.map((r) => h("tr", r.map((cell, i) => {
      if (cell instanceof HTMLTableCellElement) return cell;
      const c = columns[i] || {};
      return h("td", { class: [c.num && "num", c.cls].filter(Boolean).join(" ") || null }, cell);
    }))))));
}

// Run an admin action from a button: disable it meanwhile, show the API's
// error plainly in errorSlot, report success with a toast.
export async function adminAction(button, errorSlot, fn, done) {
  button.disabled = true;
  errorSlot.replaceChildren();
  try {
    const result = await fn();
    if (done) done(result);
  } catch (err) {
    errorSlot.replaceChildren(errorBox(err));
  } finally {
    button.disabled = false;
  }
}

export function projectLink(p) {
  return h("a", { href: `/projects/${encodeURIComponent(p.normalized)}` }, p.name);
}

export function shortHash(sha) {
  return h("code", { title: sha }, sha.slice(0, 12) + "…");
}

// What each failure class means, in the words the build page uses.
export const FAILURE_CLASSES = {
  "native-dependency": "a system library or tool is missing from the build image",
  "build-requirement": "a build requirement could not be installed",
  compile: "the project's code did not compile",
  import: "the built wheel does not import",
  timeout: "the build ran out of time",
  "out-of-memory": "the build ran out of memory",
  infrastructure: "the build farm failed, not the project (retried automatically)",
};

// A failure class as a small badge with its meaning on hover.
export function classBadge(cls) {
  if (!cls) return null;
  return h("span.badge.fclass", { title: FAILURE_CLASSES[cls] || cls }, cls);
}

// "missing libpq-fe.h, shipped by libpq-dev" for one entry of a build's missing list.
export function missingText(m) {
  const what = { header: "header", "pkg-config": "pkg-config module", library: "library", program: "program" }[m.kind] || m.kind;
  return m.package ? `missing ${m.name} (${what}), shipped by ${m.package}`
    : `missing ${m.name} (${what}); no Debian package of this suite ships it`;
}

// A one-line command with a copy button (the install line's look).
export function commandLine(text, id) {
  const code = h("code", { id }, text);
  return h("div.install", code, copyButton(text, "Copy", code));
}

// A target's architecture: the API's arch, else the tail of its platform tag.
export function targetArch(t) {
  return t.arch || (t.platform || "").replace(/^linux_/, "") || "x86_64";
}

// "3.13 aarch64": the grid's column heading for a target.
export function targetLabel(t) {
  return `${t.python_version} ${targetArch(t)}`;
}

// The grid's column order: x86_64 first, then by Python version, then name.
export function sortTargets(targets) {
  const ver = (v) => String(v).split(".").map((x) => Number(x) || 0);
  const archRank = (a) => (a === "x86_64" ? 0 : a === "aarch64" ? 1 : 2);
  return [...targets].sort((a, b) => {
    const ra = archRank(targetArch(a)) - archRank(targetArch(b));
    if (ra) return ra;
    const [va, vb] = [ver(a.python_version), ver(b.python_version)];
    for (let i = 0; i < Math.max(va.length, vb.length); i++) {
      if ((va[i] || 0) !== (vb[i] || 0)) return (va[i] || 0) - (vb[i] || 0);
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

// "waiting for an aarch64 builder" from the API's waiting_for ("aarch64 builder").
export function waitingText(what) {
  return `waiting for ${/^[aeiouxAEIOUX]/.test(what) ? "an" : "a"} ${what}`;
}
