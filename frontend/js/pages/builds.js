// builds: every build, newest first, filtered by state, failure class, project.
import { get } from "../api.js";
import { setQuery } from "../router.js";
import { FAILURE_CLASSES, ago, badge, classBadge, errorBox, fmtDuration, h, projectLink, setTitle, table, time, fill } from "../ui.js";
import { checkBadge } from "../repro.js";

export async function render(ctx) {
  setTitle("Builds");
  const slot = h("div");
  const state = h("select", { id: "b-state" }, ["", "running", "succeeded", "failed", "cancelled", "lost"].map((s) =>
    h("option", { value: s, selected: s === (ctx.query.get("state") || "") }, s || "all states")));
  const cls = h("select", { id: "b-class" }, ["", ...Object.keys(FAILURE_CLASSES)].map((c) =>
    h("option", { value: c, selected: c === (ctx.query.get("class") || "") }, c || "any class")));
  const project = h("input", { id: "b-project", type: "text", placeholder: "any project", value: ctx.query.get("project") || "", autocomplete: "off" });
  ctx.main.append(h("div.page-head", h("h1", "Builds"), h("span.live", "live")),
    h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); changed(); } },
      h("label", { for: "b-state" }, "State", state), h("label", { for: "b-class" }, "Failure class", cls),
      h("label", { for: "b-project" }, "Project", project)),
    slot);
  let lastJson = "";
  let timer = null;
  let cursors = [];

  function changed() {
    setQuery({ state: state.value, class: cls.value, project: project.value.trim() });
    cursors = [];
    lastJson = "";
    load().catch(show);
  }
  state.addEventListener("change", changed);
  cls.addEventListener("change", changed);
  project.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(changed, 250); });
  ctx.onLeave(() => clearTimeout(timer));

  function show(e) {
    if (e.name !== "AbortError") fill(slot, errorBox(e));
  }

  async function load() {
    const page = await get("/api/v1/builds", {
      limit: 50, state: state.value, class: cls.value, project: project.value.trim(), cursor: cursors[cursors.length - 1],
    }, ctx.signal);
    const json = JSON.stringify(page);
    if (json === lastJson) return;
    lastJson = json;
    fill(slot, table(
      [{ label: "Build" }, { label: "Project" }, { label: "Version" }, { label: "Target", cls: "hide-sm" },
        { label: "State" }, { label: "Builder", cls: "hide-sm" }, { label: "Duration", num: true }, { label: "Started" }],
      page.builds.map((b) => [h("span", h("a", { href: `/builds/${b.id}` }, `#${b.id}`), checkBadge(b.kind)),
        projectLink(b.project), b.version, b.target,
        h("span", badge(b.state, null, b.failure_reason || b.phase || null), classBadge(b.failure_class)), b.builder || "–",
        b.state === "running" ? ago(b.started_at).replace(" ago", "") : fmtDuration(b.duration_ms), time(b.started_at)]),
      "No builds match."),
    h("div.filters.more",
      cursors.length ? h("button", { type: "button", onclick: () => { cursors.pop(); lastJson = ""; load().catch(show); } }, "Newer") : null,
      page.next_cursor ? h("button", { type: "button", onclick: () => { cursors.push(page.next_cursor); lastJson = ""; load().catch(show); } }, "Older") : null));
  }

  await load().catch(show);
  ctx.every(5000, () => (cursors.length ? null : load().catch(show)));
}
