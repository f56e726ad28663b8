// project: releases × targets with build status, the wheels, the install
// line, downloads per day; refreshed while something is queued or running.
import { admin, enc, get } from "../api.js";
import { barChart } from "../chart.js";
import { setQuery } from "../router.js";
import {
  adminAction, badge, classBadge, commandLine, copyButton, errorBox, fmtBytes, fmtInt, h, isAdmin, plural, setTitle, shortHash,
  sortTargets, table, targetArch, targetLabel, time, toast, fill, waitingText } from "../ui.js";
import { reproMark } from "../repro.js";

const RELEASES_PER_PAGE = 20;

const LIVE = new Set(["queued", "assigned", "running"]);

// What covers a target that has no wheel of its own: "pure-Python wheel",
// "abi3 wheel from 3.11 x86_64", "wheel from 3.11 x86_64".
function coveredText(c, byName) {
  const w = c.covered_by || {};
  if (/-none-any\.whl$/.test(w.filename || "")) return "pure-Python wheel";
  const from = byName.get(w.target);
  const kind = /-abi3-/.test(w.filename || "") ? "abi3 wheel" : "wheel";
  return from ? `${kind} from ${targetLabel(from)}` : `${kind} built once`;
}

// One release on one target. A built wheel wins the status, so a rebuild in
// progress shows as a second badge beside it.
function cell(c, byName) {
  if (c.status === "covered") {
    const w = c.covered_by;
    return h("td.cell", badge("covered", w.build_id ? `/builds/${w.build_id}` : null, `covered by kiln wheel ${w.filename}`),
      h("span.reason", coveredText(c, byName)));
  }
  const href = c.build_id ? `/builds/${c.build_id}` : null;
  const title = c.reason || (c.job_state ? `job ${c.job_id}: ${c.job_state}` : null);
  const rebuilding = c.status === "built" && LIVE.has(c.job_state);
  const label = c.status === "running" ? "building" : null;
  return h("td.cell", badge(c.status, rebuilding ? null : href, title, label),
    c.status === "built" ? reproMark(c.reproducibility, c.build_id) : null,
    rebuilding ? [" ", h(href ? "a.badge" : "span.badge", { class: c.job_state === "queued" ? "queued" : "running", href },
      c.job_state === "queued" ? "rebuild queued" : "rebuilding")] : null,
    c.status === "failed" && c.failure_class ? classBadge(c.failure_class) : null,
    (c.status === "failed" || c.status === "skipped") && c.reason ? h("span.reason", c.reason) : null,
    c.waiting_for ? h("span.reason.waiting", waitingText(c.waiting_for)) : null);
}

// A release the planner skipped on every target for one reason (outside the
// version policy, say) takes one cell across the row instead of N equal ones.
function sameSkip(r, targets) {
  const reasons = new Set(r.cells.map((c) => (c.status === "skipped" ? c.reason : null)));
  if (targets.length < 2 || r.cells.length !== targets.length || reasons.size !== 1 || reasons.has(null)) return null;
  return [h("td.cell.span", { colspan: targets.length }, badge("skipped"), " ", h("span.reason.inline", `on every target: ${r.cells[0].reason}`))];
}

// The grid's column heading: "3.13 aarch64" over the Debian suite.
function targetHead(t) {
  const bits = [t.suite, t.glibc && `glibc ${t.glibc}`].filter(Boolean).join(", ");
  return h("span.thead", { title: t.name },
    h("span", targetLabel(t)), h("span.tsub", bits || t.name), t.enabled ? null : h("span.tsub", "disabled"));
}

// Which Pythons and platforms release r has a Kiln wheel for, in words:
// "wheels for CPython 3.11, 3.13 on x86_64; 3.11 on aarch64".
function coverageText(targets, r) {
  if (r.artifacts.some((a) => /-none-any\.whl$/.test(a.filename))) return "one pure-Python wheel, for any Python and platform";
  const ok = new Set(r.cells.filter((c) => c.status === "built" || c.status === "covered").map((c) => c.target));
  const byArch = new Map();
  for (const t of sortTargets(targets)) {
    if (!ok.has(t.name)) continue;
    const arch = targetArch(t);
    if (!byArch.has(arch)) byArch.set(arch, []);
    const vs = byArch.get(arch);
    if (!vs.includes(t.python_version)) vs.push(t.python_version);
  }
  if (!byArch.size) return null;
  // Architectures with the same Pythons share one clause: "3.11, 3.13 on x86_64 and aarch64".
  const groups = [];
  for (const [arch, vs] of byArch) {
    const key = vs.join(", ");
    const g = groups.find((x) => x.key === key);
    if (g) g.arches.push(arch); else groups.push({ key, arches: [arch] });
  }
  const clauses = groups.map((g) => `${g.key} on ${g.arches.join(" and ")}`);
  const one = groups.length === 1 && groups[0].arches.length === 1 && !groups[0].key.includes(",");
  return `${one ? "a wheel" : "wheels"} for CPython ${clauses.join("; ")}`;
}

// The Debian packages the wheels need on the machine that installs them.
function aptLine(pkgs) {
  if (!pkgs.length) return null;
  return h("div.apt",
    h("div.muted", "The wheels link system libraries; on Debian, install them first:"),
    commandLine(`apt install ${pkgs.join(" ")}`, "apt-line"));
}

function installLine(name, version, coverage) {
  const spec = version ? `${name}==${version}` : name;
  const text = `pip install --index-url ${location.origin}/simple/ ${spec}`;
  const code = h("code", { id: "install-line" }, text);
  return [h("div.install", code, copyButton(text, "Copy", code)),
    coverage ? h("p.coverage", { id: "wheels-for" }, `${version}: ${coverage}.`) : null];
}

const SPLIT_TOP = 5;

// The per-day chart's bars: one series, or stacked by the largest installers
// or Python versions (the rest as "other").
function splitSeries(dl, by) {
  if (by !== "installer" && by !== "python") {
    return { items: dl.daily, series: [{ key: "downloads", cls: "bar", label: "downloads" }] };
  }
  const field = by === "installer" ? "installer" : "python_version";
  const names = (by === "installer" ? dl.installers : dl.python_versions).map((x) => x[field]);
  const top = names.slice(0, SPLIT_TOP);
  const items = dl.daily.map((d) => ({ day: d.day }));
  const byDay = new Map(items.map((it) => [it.day, it]));
  for (const r of by === "installer" ? dl.daily_installers : dl.daily_python_versions) {
    const it = byDay.get(r.day);
    if (!it) continue;
    const key = top.includes(r[field]) ? `k:${r[field]}` : "k:other";
    it[key] = (it[key] || 0) + r.downloads;
  }
  const series = top.map((n, i) => ({ key: `k:${n}`, cls: `s${i}`, label: n }));
  if (names.length > SPLIT_TOP) series.push({ key: "k:other", cls: `s${SPLIT_TOP}`, label: "other" });
  return { items, series };
}

function downloadsView(name, dl, days, split, onChange) {
  const max = (arr) => Math.max(1, ...arr.map((x) => x.downloads));
  const bars = (arr, key) => {
    if (!arr.length) return h("p.muted", "None yet.");
    const m = max(arr);
    return h("div.hbars", arr.slice(0, 10).map((x) => [
      h("span", x[key]),
      h("span.track", h("span.fill", { style: `display:block;width:${(100 * x.downloads) / m}%` })),
      h("span.mono", fmtInt(x.downloads))]));
  };
  const select = h("select", { id: "dl-days", onchange: (e) => onChange(Number(e.target.value), split) },
    [7, 30, 90, 365].map((d) => h("option", { value: d, selected: d === days }, `${d} days`)));
  const splitSelect = h("select", { id: "dl-split", onchange: (e) => onChange(days, e.target.value) },
    [["", "nothing"], ["installer", "installer"], ["python", "Python version"]].map(([v, l]) =>
      h("option", { value: v, selected: v === split }, l)));
  const { items, series } = splitSeries(dl, split);
  // Drawn once the panel is on the page and its width is known.
  const chart = h("div.day-chart");
  requestAnimationFrame(() => fill(chart, barChart({
    items, series,
    xLabel: (it, short) => (short ? it.day.slice(5) : it.day),
    title: `Downloads of ${name} per day`, height: 160, width: chart.clientWidth,
  })));
  const legend = split
    ? h("div.legend", series.map((sr) => h("span", h("i", { class: sr.cls }), sr.label))) : null;
  return h("div",
    h("div.filters",
      h("label", { for: "dl-days" }, "Period", select),
      h("label", { for: "dl-split" }, "Split by", splitSelect),
      h("a", { href: `/api/v1/projects/${enc(name)}/downloads?days=${days}&format=csv`, download: `${name}-downloads.csv` },
        "Export CSV"),
      h("span.muted", `${plural(dl.total, "download")} in ${dl.days} days`)),
    h("div.two-col",
      h("div.panel", h("h3", "Per day (UTC)"), chart, legend),
      h("div.panel", h("h3", "By installer"), bars(dl.installers, "installer")),
      h("div.panel", h("h3", "By Python version"), bars(dl.python_versions, "python_version"))));
}

export async function render(ctx) {
  const name = ctx.params[0];
  const head = h("div");
  const adminErr = h("div");
  const gridSlot = h("div");
  const wheelSlot = h("div");
  const nativeSlot = h("div");
  const dlSlot = h("div");
  let days = Number(ctx.query.get("days")) || 30;
  let split = ctx.query.get("split") || "";
  let shownReleases = RELEASES_PER_PAGE;
  let lastJson = "";
  let project;

  async function load() {
    const p = await get(`/api/v1/projects/${enc(name)}`, { limit: shownReleases }, ctx.signal);
    const json = JSON.stringify(p);
    if (json === lastJson) return p;
    lastJson = json;
    project = p;
    draw(p);
    return p;
  }

  async function loadDownloads() {
    try {
      const dl = await get(`/api/v1/projects/${enc(name)}/downloads`, { days }, ctx.signal);
      const focused = dlSlot.contains(document.activeElement) ? document.activeElement.id : "";
      fill(dlSlot, downloadsView(project.normalized, dl, days, split, (d, sp) => {
        days = d;
        split = sp;
        setQuery({ days: d === 30 ? "" : String(d), split: sp });
        loadDownloads();
      }));
      // Keep the keyboard where it was (the select just used).
      if (focused) document.getElementById(focused)?.focus();
    } catch (e) {
      if (e.name !== "AbortError") fill(dlSlot, errorBox(e));
    }
  }

  function rebuild(button, body) {
    adminAction(button, adminErr, () => admin(`/api/v1/admin/projects/${enc(project.normalized)}/rebuild`, body),
      (r) => {
        const n = r.jobs.length;
        toast(n ? `Queued ${n} job${n > 1 ? "s" : ""}` : `Nothing queued (${r.live} already live, ${r.no_source} without source)`);
        fill(adminErr, h("div.note", { role: "status" },
          n ? `Rebuild queued: job${n > 1 ? "s" : ""} ${r.jobs.join(", ")}.`
            : `Nothing queued: ${r.live} pair(s) already queued or running, ${r.no_source} release(s) without a source.`));
        load().catch(() => {});
      });
  }

  function draw(p) {
    setTitle(p.name);
    const built = p.releases.find((r) => r.artifacts.length && !r.yanked);
    const version = p.latest_version && p.releases.some((r) => r.version === p.latest_version && r.artifacts.length)
      ? p.latest_version : built?.version;
    const adminOn = isAdmin();
    const rebuildAll = adminOn ? h("button", { type: "button", onclick: (e) => rebuild(e.currentTarget) }, "Rebuild all") : null;
    fill(head, 
      h("div.page-head",
        h("div", h("h1", p.name),
          h("div.sub", `${plural(p.releases_total, "release")} · ${plural(p.artifacts, "wheel")} · latest ${p.latest_version || "–"}`,
            p.deleted_at ? " · removed upstream" : "")),
        h("div.actions", rebuildAll)),
      version ? installLine(p.name, version, coverageText(p.targets, p.releases.find((r) => r.version === version)))
        : h("p.muted", "No wheel built yet, so nothing to install from Kiln."),
      aptLine(p.runtime_packages));

    const live = p.releases.some((r) => r.cells.some((c) => LIVE.has(c.job_state)));
    const targets = sortTargets(p.targets);
    const byName = new Map(targets.map((t) => [t.name, t]));
    const cols = [{ label: "Version" }, ...targets.map((t) => ({ label: targetHead(t), cls: "target" })), { label: "Released", cls: "hide-sm" }];
    if (adminOn) cols.push({ label: "" });
    const rows = p.releases.map((r) => {
      const byTarget = new Map(r.cells.map((c) => [c.target, c]));
      const row = [
        h("span", r.version, r.yanked ? h("span.badge", { title: r.yanked_reason || "yanked" }, "yanked") : null),
        ...sameSkip(r, targets) || targets.map((t) => cell(byTarget.get(t.name) || { status: "none" }, byName)),
        time(r.uploaded_at || r.created_at),
      ];
      if (adminOn)
        row.push(h("button.small", {
          type: "button", "aria-label": `Rebuild ${p.name} ${r.version}`,
          onclick: (e) => rebuild(e.currentTarget, { version: r.version }),
        }, "Rebuild"));
      return row;
    });
    const grid = table(cols, rows, "No releases yet.");
    grid.classList.add("grid");
    fill(gridSlot, 
      h("div.log-head", h("h2", "Builds"), live ? h("span.live", "updating") : null),
      grid,
      p.next_cursor ? h("button.more", {
        type: "button", onclick: () => { shownReleases += RELEASES_PER_PAGE; load().catch((e) => gridSlot.append(errorBox(e))); },
      }, "More releases") : null,
      p.releases_truncated ? h("p.muted", "Only the newest 5000 releases are shown.") : null);

    const wheels = p.releases.flatMap((r) => r.artifacts.map((a) => ({ ...a, version: r.version })));
    fill(wheelSlot, h("h2", "Wheels"), table(
      [{ label: "Version" }, { label: "File" }, { label: "Target", cls: "hide-sm" }, { label: "Needs", cls: "hide-sm" },
        { label: "Size", num: true },
        { label: "SHA-256" }, { label: "Downloads", num: true }, { label: "Build" }, { label: "Uploaded", cls: "hide-sm" }],
      wheels.map((a) => [a.version, h("a.mono", { href: a.url }, a.filename), a.target || "–",
        a.runtime_packages.length ? h("span.mono", { title: `apt install ${a.runtime_packages.join(" ")}` }, a.runtime_packages.join(" ")) : "–",
        fmtBytes(a.size),
        h("span", shortHash(a.sha256), " ", copyButton(a.sha256, "Copy")),
        fmtInt(a.downloads), a.build_id ? h("a", { href: `/builds/${a.build_id}` }, `#${a.build_id}`) : "–",
        time(a.uploaded_at)]),
      "No wheels yet."));
    drawNative(p, adminOn);
  }

  // The project's native build packages; an admin adds and removes them.
  function drawNative(p, adminOn) {
    const base = `/api/v1/admin/projects/${enc(p.normalized)}/native-packages`;
    const chips = p.native_packages.map((n) => h("span.badge.pkg", {
      class: n.source === "auto" ? "auto" : null,
      title: n.source === "auto" ? `added automatically: build #${n.build_id ?? "?"} was missing it` : "added by an administrator",
    }, n.package, n.source === "auto" ? h("span.muted", " auto") : null,
    adminOn ? h("button", {
      type: "button", "aria-label": `Remove ${n.package}`,
      onclick: (e) => adminAction(e.currentTarget, adminErr, () => admin(`${base}/${enc(n.package)}`, undefined, "DELETE"),
        (r) => { toast(`Removed ${r.removed.join(" ")}; ${r.requeued} build(s) queued again`); load().catch(() => {}); }),
    }, "×") : null));
    let form = null;
    if (adminOn) {
      const input = h("input", { id: "native-add", type: "text", placeholder: "libpq-dev libxml2-dev", autocomplete: "off", spellcheck: "false" });
      form = h("form.filters", {
        onsubmit: (e) => {
          e.preventDefault();
          const pkgs = input.value.trim().split(/\s+/).filter(Boolean);
          if (!pkgs.length) return;
          adminAction(e.submitter || form.querySelector("button"), adminErr, () => admin(base, { packages: pkgs }),
            (r) => {
              input.value = "";
              toast(r.added.length ? `Added ${r.added.join(" ")}; ${r.requeued} build(s) queued again` : "Nothing new to add");
              load().catch(() => {});
            });
        },
      }, h("label", { for: "native-add" }, "Add Debian packages", input), h("button", { type: "submit" }, "Add"));
    }
    fill(nativeSlot, h("h2", "Native build packages"),
      h("p.muted", "Debian packages installed into the build image for this project, beyond the target's own."),
      chips.length ? h("div.pkgs", { id: "native-packages" }, chips) : h("p.muted", "None: the target's image has what the builds need."),
      form);
  }

  ctx.main.append(head, adminErr, gridSlot, wheelSlot, nativeSlot, h("h2", "Downloads"), dlSlot);
  const p = await load();
  if (p.normalized !== name) history.replaceState(null, "", `/projects/${enc(p.normalized)}${location.search}`);
  await loadDownloads();
  ctx.every(4000, load);
  const onAdmin = () => { lastJson = ""; load().catch(() => {}); };
  window.addEventListener("kiln-admin", onAdmin);
  ctx.onLeave(() => window.removeEventListener("kiln-admin", onAdmin));
}
