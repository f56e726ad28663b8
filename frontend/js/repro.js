// repro: reproducibility checks in the UI (docs/builds.md, "Reproducibility
// checks"): the build page's section and a check's banner, the project grid's
// mark, the builds list's and the queue's check badge.
import { h } from "./ui.js";

// What each result means, in the words the marks' titles use.
export const REPRO_TITLES = {
  reproducible: "reproducible: a second build by a builder of the farm gave the same bytes",
  differs: "not reproducible: a second build gave other bytes (the build page says which members)",
  failed: "the reproducibility check's own build failed",
};

// "m1, m2 (content), m3 (metadata: date)": a differing wheel's members, those
// that differ the same way together, then "and N more".
export function membersText(members) {
  const groups = [];
  let more = 0;
  for (const m of members || []) {
    if (m.more) { more += m.more; continue; }
    const how = m.fields && m.fields.length ? `${m.what}: ${m.fields.join(", ")}` : m.what;
    let g = groups.find((x) => x.how === how);
    if (!g) groups.push(g = { how, names: [] });
    g.names.push(m.member || "(the archive)");
  }
  const text = groups.map((g) => `${g.names.join(", ")} (${g.how})`).join(", ");
  return more ? `${text} and ${more} more` : text;
}

// One line per wheel that is not the same: "wheel F: members ...".
function wheelLine(w) {
  if (w.result === "missing") return h("li", h("span.mono", w.filename), ": missing from the check");
  if (w.result === "extra") return h("li", h("span.mono", w.filename), ": only in the check");
  const members = membersText(w.members);
  return h("li", "wheel ", h("span.mono", w.filename), members ? `: members ${members}` : ": other bytes");
}

const checkLink = (id) => (id ? h("a", { href: `/builds/${id}` }, `check build #${id}`) : "check build");

// The banner atop a check's build page.
export function checkBanner(b) {
  if (b.kind !== "check" || !b.check_of) return null;
  const of = b.check_of.build;
  return h("div.note.repro-banner", { id: "check-banner", role: "note" },
    "This is a reproducibility check of ", of ? h("a", { href: `/builds/${of}` }, `build #${of}`) : `job ${b.check_of.job}`,
    "; its wheels are compared, not published.");
}

// The build page's "Reproducibility" section for a build (null for a check).
// onCheck, given to an admin, queues a check.
export function reproSection(b, onCheck) {
  if (b.kind === "check") return null;
  const r = b.reproducibility;
  const lines = [];
  if (r && r.result === "reproducible") {
    lines.push(h("p.repro-result", { id: "repro-result" }, reproBadge("reproducible"),
      ` — rebuilt byte for byte by builder ${r.builder || "?"} (`, checkLink(r.check_build), ")"));
  } else if (r && r.result === "differs") {
    lines.push(h("p.repro-result", { id: "repro-result" }, reproBadge("differs"),
      ` — rebuilt by builder ${r.builder || "?"} (`, checkLink(r.check_build), "), other bytes:"),
    h("ul.repro-wheels", r.wheels.filter((w) => w.result !== "same").map(wheelLine)));
  } else if (r && r.result === "failed") {
    lines.push(h("p.repro-result", { id: "repro-result" }, reproBadge("failed", "check failed"),
      ` — the check's build failed (`, checkLink(r.check_build), ")"));
  }
  if (b.reproducibility_pending)
    lines.push(h("p", { id: "repro-pending" }, h("span.badge.queued", r ? "check queued again" : "check queued")));
  const published = b.state === "succeeded" && b.artifacts.some((a) => a.published_at);
  if (!lines.length) {
    if (!published) return null;
    lines.push(h("p.muted", { id: "repro-result" }, "Not checked: the farm rebuilds a sample of its builds to compare."));
  }
  const button = onCheck && published && !b.reproducibility_pending
    ? h("button.small", { type: "button", id: "repro-check", onclick: (e) => onCheck(e.currentTarget) }, "Check reproducibility") : null;
  return h("section.repro", { "aria-label": "Reproducibility" }, h("h2", "Reproducibility"), lines, button);
}

function reproBadge(result, text) {
  return h("span.badge.repro", { class: result, title: REPRO_TITLES[result] }, text || result);
}

// The grid cell's small mark: reproducible ✓, differs ≠, a failed check ✗.
export function reproMark(result, buildId) {
  if (!result) return null;
  const sign = { reproducible: "✓", differs: "≠", failed: "✗" }[result];
  if (!sign) return null;
  const attrs = { class: result, title: REPRO_TITLES[result], "aria-label": REPRO_TITLES[result],
    href: buildId ? `/builds/${buildId}` : null };
  return h(buildId ? "a.repro-mark" : "span.repro-mark", attrs, sign);
}

// A check's row in the builds list or the queue.
export function checkBadge(kind) {
  return kind === "check" ? h("span.badge.check", { title: "a reproducibility check: built again and compared, never published" }, "check") : null;
}
