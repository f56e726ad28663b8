// queue: live jobs in the order they are worked, filtered by target and
// project (kept in the URL), refreshed every few seconds.
import { admin, get } from "../api.js";
import { setQuery } from "../router.js";
import { adminAction, badge, errorBox, h, isAdmin, plural, projectLink, setTitle, table, time, toast, fill, waitingText } from "../ui.js";
import { checkBadge } from "../repro.js";

// Queued jobs no connected builder can take, by what they wait for: a job of
// an architecture without a builder must not look stuck.
function waitingNote(jobs, more) {
  const by = new Map();
  for (const j of jobs) if (j.waiting_for) by.set(j.waiting_for, (by.get(j.waiting_for) || 0) + 1);
  if (!by.size) return null;
  return h("div.note.waiting", { id: "waiting-note", role: "status" }, [...by].map(([what, n]) => {
    const arch = what.replace(/ builder$/, "");
    return h("p", h("strong", `${plural(n, "queued job")}${more ? " (of those shown)" : ""} ${waitingText(what)}`),
      `: none is online and unpaused. Start one on an ${arch} machine, or let a builder of another architecture emulate it (`,
      h("code", `KILN_BUILDER_EMULATE=${arch}`), ", much slower); see docs/deploy.md.");
  }));
}

export async function render(ctx) {
  setTitle("Queue");
  const err = h("div");
  const slot = h("div");
  const target = h("select", { id: "f-target" }, h("option", { value: "" }, "all targets"));
  const project = h("input", { id: "f-project", type: "text", placeholder: "any project", value: ctx.query.get("project") || "", autocomplete: "off" });
  const state = h("select", { id: "f-state" }, ["", "queued", "assigned", "running"].map((s) =>
    h("option", { value: s, selected: s === (ctx.query.get("state") || "") }, s || "all states")));
  ctx.main.append(h("div.page-head", h("h1", "Queue"), h("span.live", "live")),
    h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); changed(); } },
      h("label", { for: "f-target" }, "Target", target),
      h("label", { for: "f-project" }, "Project", project),
      h("label", { for: "f-state" }, "State", state)),
    err, slot);
  let lastJson = "";
  let timer = null;

  try {
    const t = await get("/api/v1/targets", null, ctx.signal);
    for (const x of t.targets)
      target.append(h("option", { value: x.name, selected: x.name === ctx.query.get("target") },
        `${x.name} (${x.queued} queued, ${x.running} running${x.builders === 0 && x.queued ? ", no builder" : ""})`));
  } catch (e) {
    if (e.name === "AbortError") return;
    fill(err, errorBox(e));
  }

  function changed() {
    setQuery({ target: target.value, project: project.value.trim(), state: state.value });
    lastJson = "";
    load().catch(show);
  }
  target.addEventListener("change", changed);
  state.addEventListener("change", changed);
  project.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(changed, 250); });
  ctx.onLeave(() => clearTimeout(timer));

  function show(e) {
    if (e.name !== "AbortError") fill(slot, errorBox(e));
  }

  async function load() {
    const q = await get("/api/v1/queue", {
      limit: 200, target: target.value, project: project.value.trim(), state: state.value,
    }, ctx.signal);
    const json = JSON.stringify([q, isAdmin()]);
    if (json === lastJson) return;
    lastJson = json;
    const adminOn = isAdmin();
    const cols = [{ label: "Job", num: true }, { label: "Project" }, { label: "Version" }, { label: "Target", cls: "hide-sm" },
      { label: "State" }, { label: "Builder" }, { label: "Priority", num: true, cls: "hide-sm" },
      { label: "Attempts", num: true, cls: "hide-sm" }, { label: "Queued" }];
    if (adminOn) cols.push({ label: "" });
    fill(slot, waitingNote(q.jobs, Boolean(q.next_cursor)), table(cols, q.jobs.map((j) => {
      const row = [
        String(j.id), projectLink(j.project), j.version, j.target,
        h("span", badge(j.state, j.build_id ? `/builds/${j.build_id}` : null, j.phase), checkBadge(j.kind),
          j.phase ? h("span.muted", ` ${j.phase}`) : null,
          j.waiting_for ? h("span.waiting-note", ` ${waitingText(j.waiting_for)}`) : null,
          j.not_before ? h("span.muted", " retry ", time(j.not_before)) : null),
        j.builder || "–", String(j.priority), `${j.attempts} / ${j.max_attempts}`, time(j.created_at),
      ];
      if (adminOn)
        row.push(h("button.small.danger", {
          type: "button", "aria-label": `Cancel job ${j.id}`,
          onclick: (e) => adminAction(e.currentTarget, err, () => admin(`/api/v1/admin/jobs/${j.id}/cancel`),
            (r) => { toast(`Job ${r.job} cancelled`); load().catch(show); }),
        }, "Cancel"));
      return row;
    }), "The queue is empty."),
    q.next_cursor ? h("p.muted", "Showing the first 200 jobs.") : null);
  }

  await load().catch(show);
  ctx.every(4000, () => load().catch(show));
}
