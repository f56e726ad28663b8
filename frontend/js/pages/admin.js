// admin: the admin token (kept in this browser only) and farm-wide actions.
import { admin, adminToken, setAdminToken } from "../api.js";
import { FAILURE_CLASSES, adminAction, h, setTitle, toast, fill } from "../ui.js";

export function render(ctx) {
  setTitle("Admin");
  const err = h("div");
  const input = h("input", { id: "admin-token", type: "password", autocomplete: "off", spellcheck: "false",
    placeholder: "kiln_…", value: adminToken() });
  const state = h("p", { "aria-live": "polite" });
  const actions = h("div");

  function draw() {
    const on = adminToken() !== "";
    fill(state, on ? "An admin token is set: admin actions (rebuild, cancel, pause) show on the project, build, queue and builders pages."
      : "No admin token is set: the UI shows no admin actions.");
    const cls = h("select", { id: "requeue-class" }, ["", ...Object.keys(FAILURE_CLASSES)].map((c) =>
      h("option", { value: c }, c || "any failure class")));
    fill(actions, on ? h("div",
      h("h2", "Farm-wide"),
      h("div.filters",
        h("label", { for: "requeue-class" }, "Failed with", cls),
        h("button", {
          type: "button",
          onclick: (e) => adminAction(e.currentTarget, err,
            () => admin("/api/v1/admin/jobs/requeue-failed", cls.value ? { class: cls.value } : undefined),
            (r) => toast(`Queued ${r.requeued} job(s) again (${r.failed} failed pairs)`)),
        }, "Requeue failed builds"))) : null);
  }

  ctx.main.append(h("div.page-head", h("h1", "Admin")),
    h("form.panel", {
      onsubmit: (e) => {
        e.preventDefault();
        const v = input.value.trim();
        if (v && !/^kiln_[A-Za-z0-9_-]{43}$/.test(v)) {
          fill(err, h("div.alert", { role: "alert" }, "That is not an admin token: they look like kiln_ and 43 letters, digits, - or _ (kilnctl admin-token add NAME prints one)."));
          return;
        }
        fill(err);
        setAdminToken(v);
        toast(v ? "Admin token saved in this browser" : "Admin token forgotten");
        draw();
      },
    },
    h("label", { for: "admin-token" }, "Admin token ", h("span.muted", "(from kilnctl admin-token add NAME; stored in this browser only)")),
    h("div.install", input, h("button.primary", { type: "submit" }, "Save"),
      h("button", { type: "button", onclick: () => { input.value = ""; setAdminToken(""); toast("Admin token forgotten"); draw(); } }, "Forget"))),
    state, err, actions);
  draw();
}
