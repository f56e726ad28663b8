// builders: each builder's state, targets, slots, current jobs, last contact.
import { admin, enc, get } from "../api.js";
import { adminAction, badge, errorBox, h, isAdmin, setTitle, table, time, toast, fill } from "../ui.js";

export async function render(ctx) {
  setTitle("Builders");
  const err = h("div");
  const slot = h("div");
  ctx.main.append(h("div.page-head", h("h1", "Builders"), h("span.live", "live")), err, slot);
  let lastJson = "";

  async function load(force) {
    // Assigned and running jobs are both held by a builder; the queue filters one state at a time.
    const [bl, q, assigned] = await Promise.all([
      get("/api/v1/builders", null, ctx.signal),
      get("/api/v1/queue", { limit: 200, state: "running" }, ctx.signal),
      get("/api/v1/queue", { limit: 200, state: "assigned" }, ctx.signal),
    ]);
    const json = JSON.stringify([bl, q, assigned, isAdmin()]);
    if (json === lastJson && !force) return;
    lastJson = json;
    const jobs = new Map();
    for (const j of [...q.jobs, ...assigned.jobs]) {
      if (!j.builder) continue;
      if (!jobs.has(j.builder)) jobs.set(j.builder, []);
      jobs.get(j.builder).push(j);
    }
    const adminOn = isAdmin();
    const cols = [{ label: "Builder" }, { label: "State" }, { label: "Targets" }, { label: "Slots", num: true },
      { label: "Current jobs" }, { label: "Last seen" }, { label: "Version", cls: "hide-sm" }];
    if (adminOn) cols.push({ label: "" });
    fill(slot, table(cols, bl.builders.map((b) => {
      const caps = b.capabilities || {};
      const mine = jobs.get(b.name) || [];
      const row = [
        h("strong", b.name),
        h("span", badge(b.online ? "online" : "offline"), " ", b.state !== "enabled" ? badge(b.state) : null),
        h("span.wrap", (caps.targets || []).join(", ") || "–"),
        caps.slots ? `${b.active_jobs} / ${caps.slots}` : String(b.active_jobs),
        mine.length ? h("span", mine.map((j, i) => [i ? ", " : "",
          h("a", { href: j.build_id ? `/builds/${j.build_id}` : `/queue?project=${enc(j.project.normalized)}` },
            `${j.project.name} ${j.version}`), j.phase ? h("span.muted", ` (${j.phase})`) : null]))
          : h("span.muted", "idle"),
        time(b.last_seen),
        b.version || "–",
      ];
      if (adminOn) {
        const paused = b.state === "paused";
        row.push(b.state === "disabled" ? "" : h("button.small", {
          type: "button", "aria-label": `${paused ? "Resume" : "Pause"} ${b.name}`,
          onclick: (e) => adminAction(e.currentTarget, err,
            () => admin(`/api/v1/admin/builders/${enc(b.name)}/${paused ? "resume" : "pause"}`),
            (r) => { toast(`${r.name} is ${r.state}`); load(true).catch(() => {}); }),
        }, paused ? "Resume" : "Pause"));
      }
      return row;
    }), "No builder registered yet (kilnctl builder add NAME)."));
  }

  try { await load(); } catch (e) { if (e.name !== "AbortError") fill(err, errorBox(e)); }
  ctx.every(4000, () => load().catch((e) => { if (e.name !== "AbortError") fill(err, errorBox(e)); }));
}
