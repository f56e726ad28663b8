// build: one build's facts, artifacts and log. A running build's log streams
// over the log WebSocket (kiln-log.v1) and follows the end until the reader
// scrolls up; a finished one is fetched whole.
import { admin, get, getText } from "../api.js";
import {
  FAILURE_CLASSES, adminAction, badge, classBadge, commandLine, errorBox, fmtBytes, fmtDuration, h, isAdmin, missingText,
  projectLink, setTitle, shortHash, table, targetArch, time, toast, fill, waitingText } from "../ui.js";
import { checkBanner, reproSection } from "../repro.js";

const LIVE_JOB = new Set(["queued", "assigned", "running"]);

function facts(b) {
  const dl = h("dl.facts");
  const add = (k, v) => dl.append(h("dt", k), h("dd", v));
  add("State", h("span", badge(b.state), b.phase && b.state === "running" ? ` ${b.phase}` : ""));
  add("Project", h("span", projectLink(b.project), ` ${b.release.version}`));
  add("Target", `${b.target.name} (Python ${b.target.python_version}, ${targetArch(b.target)}`
    + `${b.target.suite ? `, Debian ${b.target.suite}` : ""}${b.target.glibc ? `, glibc ${b.target.glibc}` : ""})`);
  add("Builder", b.builder || "–");
  add("Attempt", h("span", `${b.attempt} of ${b.job.max_attempts} (job ${b.job.id}: ${b.job.state})`,
    b.job.waiting_for ? h("span.waiting-note", { id: "job-waiting" }, `, ${waitingText(b.job.waiting_for)}`) : null));
  add("Started", time(b.started_at));
  add("Finished", time(b.finished_at));
  add("Duration", b.state === "running" ? fmtDuration(Date.now() - Date.parse(b.started_at)) + " so far" : fmtDuration(b.duration_ms));
  if (b.exit_code !== null) add("Exit code", String(b.exit_code));
  if (b.failure_reason) add("Failure", h("span", { style: "color:var(--bad)" }, b.failure_reason));
  if (b.failure_class) add("Class", h("span", classBadge(b.failure_class), " ", FAILURE_CLASSES[b.failure_class] || ""));
  if (b.native_packages.length)
    add("Native packages", h("span.pkgs", b.native_packages.map((p) => h("span.badge.pkg", p))));
  if (b.built_with) add("Built in", builtWith(b.built_with));
  return dl;
}

// How the build ran, as its builder reported it (signed into each wheel's provenance):
// "Image sha256:… · N build requirements", the command on hover.
function builtWith(w) {
  const parts = [];
  if (w.image_id) {
    parts.push(h("span", { id: "built-image", title: [w.image_name, w.image_base ? `from ${w.image_base}` : null]
      .filter(Boolean).join(" ") || null }, "Image ", h("code", w.image_id.slice(0, 19) + "…")));
  }
  if (w.build_requirements !== null) {
    const n = w.build_requirements;
    parts.push(h("span", { id: "built-requirements" }, `${n} build requirement${n === 1 ? "" : "s"}`));
  }
  if (w.command) parts.push(h("span.muted", { title: w.command.join(" ") }, "command"));
  return h("span", parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
}

// What a native-dependency failure missed, who ships it, and the one command that fixes it.
function suggestion(b) {
  if (b.failure_class !== "native-dependency" || !b.missing.length) return null;
  return h("section.suggest", { "aria-label": "Suggested fix" },
    h("h3", "Missing native dependency"),
    h("ul", b.missing.map((m) => h("li", { class: "missing" }, missingText(m)))),
    b.auto_added.length ? h("p", { id: "auto-added" }, `Kiln added ${b.auto_added.join(" ")} to the project's native packages `
      + `and queued the job once more (attempt ${b.attempt + 1}).`) : null,
    b.fix ? [h("div.muted", b.auto_added.length ? "The same by hand:" : "Give the project the package, and its failed builds are queued again:"),
      commandLine(b.fix, "fix-command")]
      : h("div.muted", "The suite's Contents index names no package for this file: the project may need a library Debian does not ship."));
}

export async function render(ctx) {
  const id = ctx.params[0];
  const head = h("div");
  const info = h("div");
  const adminErr = h("div");
  const arts = h("div");
  const banner = h("div");
  const repro = h("div");
  const status = h("span.muted", { "aria-live": "polite" });
  const pre = h("pre.log", { id: "log", tabindex: "0", "aria-label": "Build log" });
  const follow = h("button.small", { type: "button", hidden: true }, "Follow the end");
  let build;
  let following = true;
  let ended = false;

  setTitle(`Build #${id}`);
  ctx.main.append(head, banner, adminErr, info, repro, arts,
    h("div.log-head", h("h2", "Log"), status,
      h("div.actions", follow, h("a", { href: `/api/v1/builds/${id}/log`, target: "_blank", rel: "noopener" }, "Raw text"))),
    pre);

  pre.addEventListener("scroll", () => {
    following = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    follow.hidden = following || ended;
  });
  follow.addEventListener("click", () => {
    following = true;
    follow.hidden = true;
    pre.scrollTop = pre.scrollHeight;
  });

  function appendLog(text) {
    pre.append(document.createTextNode(text));
    if (following) pre.scrollTop = pre.scrollHeight;
  }

  function draw(b) {
    build = b;
    setTitle(`Build #${b.id}`, `${b.project.name} ${b.release.version}`);
    const canCancel = isAdmin() && LIVE_JOB.has(b.job.state);
    fill(head, h("div.page-head",
      h("div", h("h1", `Build #${b.id}`, " ", badge(b.state)),
        h("div.sub", `${b.project.name} ${b.release.version} on ${b.target.name}`)),
      h("div.actions", canCancel ? h("button.danger", {
        type: "button",
        onclick: (e) => adminAction(e.currentTarget, adminErr, () => admin(`/api/v1/admin/jobs/${b.job.id}/cancel`),
          (r) => { toast(`Job ${r.job} cancelled`); refresh(); }),
      }, "Cancel job") : null)));
    fill(info, facts(b), suggestion(b));
    drawRepro(b);
    fill(arts, h("h2", "Artifacts"), table(
      [{ label: "File" }, { label: "Platform", cls: "hide-sm" }, { label: "Needs from the system" }, { label: "Size", num: true },
        { label: "SHA-256" }, { label: "Published" }],
      b.artifacts.map((a) => [h("span", h("a.mono", { href: a.url }, a.filename), a.provenance ? [" ",
        h("a.small.provenance", { href: a.provenance, title: "Signed provenance (in-toto, SLSA v1)" }, "provenance")] : null), a.policy || "–",
        // Only a wheel the repair step reported on is known to need nothing more.
        a.runtime_packages.length ? h("span.mono", a.runtime_packages.join(" "))
          : h("span.muted", a.policy ? "nothing beyond the manylinux set" : "–"),
        fmtBytes(a.size), shortHash(a.sha256),
        a.published_at ? time(a.published_at) : h("span.muted", "not published")]),
      b.state === "running" ? "No wheel uploaded yet." : "This build uploaded no wheel."));
  }

  // Reproducibility: a check's banner, a build's result (an admin may ask for a check).
  function drawRepro(b) {
    fill(banner, checkBanner(b));
    const onCheck = isAdmin() ? (button) => adminAction(button, adminErr,
      () => admin(`/api/v1/admin/builds/${b.id}/check`),
      (r) => { toast(`Check queued: job ${r.job}`); refresh(); }) : null;
    fill(repro, reproSection(b, onCheck));
  }

  async function refresh() {
    const b = await get(`/api/v1/builds/${id}`, null, ctx.signal);
    draw(b);
    return b;
  }

  async function loadWhole() {
    status.textContent = "loading…";
    try {
      const text = await getText(`/api/v1/builds/${id}/log`, ctx.signal);
      pre.textContent = text || "";
      if (!text) pre.append(h("span.muted", "(empty log)"));
      status.textContent = "complete";
      ended = true;
    } catch (e) {
      if (e.name !== "AbortError") { status.textContent = ""; fill(pre, errorBox(e)); }
    }
  }

  function stream() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/builds/${id}/log/ws`, "kiln-log.v1");
    let lastSeq = -1;
    let gotEnd = false;
    status.textContent = "connecting…";
    fill(pre);
    ws.addEventListener("open", () => { status.textContent = "streaming live"; status.className = "live"; });
    ws.addEventListener("message", (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "chunk" && msg.seq > lastSeq) {
        lastSeq = msg.seq;
        appendLog(msg.data);
      } else if (msg.type === "end") {
        gotEnd = true;
        ended = true;
        follow.hidden = true;
        status.className = "muted";
        status.textContent = `complete (${msg.state})`;
        refresh().catch(() => {});
      } else if (msg.type === "error") {
        status.className = "muted";
        fill(pre, errorBox(new Error(msg.message)));
      }
    });
    ws.addEventListener("close", () => {
      if (gotEnd || !ctx.alive) return;
      // Dropped mid-build (backend restart): show what is stored, then rejoin.
      status.className = "muted";
      status.textContent = "reconnecting…";
      setTimeout(() => {
        if (!ctx.alive) return;
        refresh().then((b) => (b.state === "running" ? stream() : loadWhole())).catch(() => {});
      }, 2000);
    });
    ctx.onLeave(() => ws.close());
  }

  const b = await refresh();
  if (b.state === "running") {
    stream();
    ctx.every(3000, async () => { if (build.state === "running") await refresh(); });
  } else {
    await loadWhole();
  }
  const onAdmin = () => draw(build);
  window.addEventListener("kiln-admin", onAdmin);
  ctx.onLeave(() => window.removeEventListener("kiln-admin", onAdmin));
}
