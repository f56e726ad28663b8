// search: projects as you type, from the header's search box (?q=).
import { get } from "../api.js";
import { setQuery } from "../router.js";
import { errorBox, h, plural, setTitle, time, fill } from "../ui.js";

export async function render(ctx) {
  const box = document.getElementById("q");
  const results = h("div", { "aria-live": "polite" });
  const heading = h("h1", "Projects");
  ctx.main.append(h("div.page-head", heading), results);
  let seq = 0;
  let timer = null;
  let cursor = null;
  let term = "";

  async function load(q, more) {
    const mine = ++seq;
    let page;
    try {
      page = await get("/api/v1/projects", { q, limit: 50, cursor: more ? cursor : undefined }, ctx.signal);
    } catch (err) {
      if (err.name !== "AbortError" && mine === seq) fill(results, errorBox(err));
      return;
    }
    if (mine !== seq || !ctx.alive) return;
    cursor = page.next_cursor;
    const items = page.projects.map((p) => h("li", h("a", { href: `/projects/${encodeURIComponent(p.normalized)}` },
      h("span.name", p.name),
      h("span.meta", p.latest_version ? `latest ${p.latest_version}` : "no release yet"),
      h("span.meta", `${plural(p.releases, "release")} · ${plural(p.artifacts, "wheel")} · updated `, time(p.updated_at)))));
    let list = results.querySelector("ul.results");
    if (!more || !list) {
      fill(results);
      if (!items.length) {
        results.append(h("p.empty", q ? `No project matches “${q}”.` : "No projects yet."));
        return;
      }
      list = h("ul.results");
      results.append(list);
    }
    list.append(...items);
    results.querySelector(".more")?.remove();
    if (cursor)
      results.append(h("button.more", { type: "button", onclick: () => load(term, true) }, "More projects"));
  }

  function update() {
    term = box.value.trim();
    heading.textContent = term ? `Projects matching “${term}”` : "Projects";
    setTitle(term ? `Search: ${term}` : "Projects");
    setQuery({ q: term });
    load(term, false);
  }

  // Opened by typing in the box: what was typed since is newer than the URL.
  if (document.activeElement !== box) box.value = ctx.query.get("q") || "";
  const onInput = () => { clearTimeout(timer); timer = setTimeout(update, 120); };
  box.addEventListener("input", onInput);
  ctx.onLeave(() => { box.removeEventListener("input", onInput); clearTimeout(timer); box.value = ""; });
  // Arrow down from the box moves into the results.
  const onKey = (ev) => {
    if (ev.key === "ArrowDown") {
      const first = results.querySelector("a");
      if (first) { ev.preventDefault(); first.focus(); }
    }
  };
  box.addEventListener("keydown", onKey);
  ctx.onLeave(() => box.removeEventListener("keydown", onKey));
  // Up and down move between results; up from the first goes back to the box.
  results.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    const links = [...results.querySelectorAll("ul.results a")];
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    ev.preventDefault();
    if (ev.key === "ArrowDown") links[Math.min(i + 1, links.length - 1)].focus();
    else if (i === 0) box.focus();
    else links[i - 1].focus();
  });
  update();
}
