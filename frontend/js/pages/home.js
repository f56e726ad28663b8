// home: what the farm holds and does now, refreshed every few seconds.
import { get } from "../api.js";
import { barChart } from "../chart.js";
import { ago, badge, errorBox, fmtDuration, fmtInt, h, projectLink, setTitle, table, time, fill } from "../ui.js";

function card(n, label, cls) {
  return h("div.card", h("div.n", { class: cls }, fmtInt(n)), h("div.l", label));
}

function hourLabel(it, short) {
  const d = new Date(it.hour);
  const hh = String(d.getUTCHours()).padStart(2, "0");
  return short ? hh : `${it.hour.slice(0, 10)} ${hh}:00–${hh}:59 UTC`;
}

export async function render(ctx) {
  setTitle("Home");
  const cards = h("div.cards", { "aria-live": "polite" });
  const chart = h("div");
  const recent = h("div");
  const err = h("div");
  ctx.main.append(
    h("div.page-head", h("h1", "Build farm"), h("span.live", "live")),
    err, cards,
    h("h2", "Last 24 hours"),
    h("div.panel", chart,
      h("div.legend", h("span", h("i", { style: "background:var(--ok)" }), "builds succeeded"),
        h("span", h("i", { style: "background:var(--bad)" }), "builds failed"),
        h("span", h("i", { style: "background:var(--wait)" }), "queue length (right scale)"),
        h("span", "hours in UTC"))),
    h("h2", "Recent builds"), recent);

  let lastJson = "";

  async function refresh() {
    const [stats, history, builds] = await Promise.all([
      get("/api/v1/stats", null, ctx.signal),
      get("/api/v1/stats/history", null, ctx.signal),
      get("/api/v1/builds", { limit: 12 }, ctx.signal),
    ]);
    fill(err);
    // Redraw only on news, so a reader tabbing through the page keeps the focus.
    const json = JSON.stringify([stats, history, builds]);
    if (json === lastJson) return;
    lastJson = json;
    fill(cards, 
      card(stats.projects, "projects mirrored"),
      card(stats.releases, "releases"),
      card(stats.artifacts, "wheels built"),
      card(stats.builds_24h.succeeded, "builds succeeded, 24 h", "ok"),
      card(stats.builds_24h.failed, "builds failed, 24 h", stats.builds_24h.failed ? "bad" : ""),
      card(stats.queue.queued, "jobs queued"),
      card(stats.queue.assigned + stats.queue.running, "jobs running"),
      card(stats.builders_online, "builders online"),
      card(stats.downloads.last_24h, "downloads, today and yesterday"),
      card(stats.downloads.total, "downloads, all time"));
    fill(chart, barChart({
      items: history.hours,
      series: [{ key: "succeeded", cls: "ok", label: "succeeded" }, { key: "failed", cls: "bad", label: "failed" }],
      line: { key: "queued", cls: "queue", label: "queued" },
      xLabel: hourLabel,
      width: chart.clientWidth,
      title: "Builds per hour and queue length over the last 24 hours",
    }));
    fill(recent, table(
      [{ label: "Build" }, { label: "Project" }, { label: "Version" }, { label: "Target", cls: "hide-sm" },
        { label: "State" }, { label: "Builder", cls: "hide-sm" }, { label: "Duration", num: true }, { label: "Started" }],
      builds.builds.map((b) => [
        h("a", { href: `/builds/${b.id}` }, `#${b.id}`), projectLink(b.project), b.version, b.target,
        badge(b.state, null, b.failure_reason || b.phase || null), b.builder || "–",
        b.state === "running" ? ago(b.started_at).replace(" ago", "") : fmtDuration(b.duration_ms),
        time(b.started_at)]),
      "No builds yet."));
  }

  try {
    await refresh();
  } catch (e) {
    if (e.name === "AbortError") return;
    fill(err, errorBox(e));
  }
  ctx.every(5000, async () => {
    try { await refresh(); } catch (e) { if (e.name !== "AbortError") fill(err, errorBox(e)); }
  });
}
