// router: maps paths to page modules, takes over same-origin link clicks and
// back/forward (History API), and gives each page a context whose timers,
// sockets and fetches end when the reader leaves it.

let routes = [];
let current = null;
let notFound = null;

export function setRoutes(table, fallback) {
  routes = table;
  notFound = fallback;
}

function match(pathname) {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (m) return { route: r, params: m.slice(1).map(decodeURIComponent) };
  }
  return { route: notFound, params: [] };
}

class PageContext {
  constructor(main, params, url) {
    this.main = main;
    this.params = params;
    this.url = url;
    this.query = url.searchParams;
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.cleanups = [];
  }
  get alive() { return !this.signal.aborted; }
  onLeave(fn) { this.cleanups.push(fn); }
  // Run fn now and every ms while the page is shown and the tab visible.
  every(ms, fn) {
    let timer = null;
    const tick = async () => {
      timer = null;
      if (!this.alive) return;
      if (document.visibilityState === "visible") {
        try { await fn(); } catch (err) { if (err.name !== "AbortError") console.warn(err); }
      }
      if (this.alive) timer = setTimeout(tick, ms);
    };
    timer = setTimeout(tick, ms);
    this.onLeave(() => timer && clearTimeout(timer));
  }
  leave() {
    this.controller.abort();
    for (const fn of this.cleanups) { try { fn(); } catch { /* leaving anyway */ } }
  }
}

export async function render(focusMain) {
  const url = new URL(location.href);
  const { route, params } = match(url.pathname);
  if (current) current.leave();
  const main = document.getElementById("main");
  const ctx = new PageContext(main, params, url);
  current = ctx;
  for (const a of document.querySelectorAll("[data-nav]"))
    if (a.dataset.nav === route.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  main.replaceChildren();
  try {
    const mod = await route.load();
    if (ctx !== current) return;
    await mod.render(ctx);
  } catch (err) {
    if (err.name === "AbortError" || ctx !== current) return;
    const { errorBox } = await import("./ui.js");
    main.replaceChildren(errorBox(err));
  }
  if (focusMain && ctx === current) main.focus({ preventScroll: true });
}

// Show href; focus moves to the new page unless focus is false (typing in
// the search box must not lose the box).
export function navigate(href, { replace = false, focus = true } = {}) {
  const url = new URL(href, location.href);
  if (url.href === location.href && !replace) return render(focus);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.scrollTo(0, 0);
  return render(focus);
}

// Change the URL's query without rendering again (filters, search terms).
export function setQuery(params) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(params))
    if (v) url.searchParams.set(k, v); else url.searchParams.delete(k);
  history.replaceState(null, "", url);
}

export function start() {
  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey)
      return;
    const a = ev.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) return;
    // The API, the index and wheel files are not pages of the UI.
    if (/^\/(api|simple|files)(\/|$)/.test(url.pathname)) return;
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
    ev.preventDefault();
    navigate(url.href);
  });
  window.addEventListener("popstate", () => render(true));
  render(false);
}
