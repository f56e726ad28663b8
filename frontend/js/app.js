// app: the UI's entry point: the route table, the header's search box, the
// "/" shortcut and the admin marker in the navigation.

import { adminToken } from "./api.js";
import { navigate, setRoutes, start } from "./router.js";

const page = (name) => () => import(`./pages/${name}.js`);

setRoutes([
  { pattern: /^\/$/, load: page("home"), nav: "home" },
  { pattern: /^\/search$/, load: page("search") },
  { pattern: /^\/projects\/([^/]+)$/, load: page("project") },
  { pattern: /^\/builds$/, load: page("builds"), nav: "builds" },
  { pattern: /^\/builds\/([0-9]+)$/, load: page("build"), nav: "builds" },
  { pattern: /^\/builders$/, load: page("builders"), nav: "builders" },
  { pattern: /^\/queue$/, load: page("queue"), nav: "queue" },
  { pattern: /^\/admin$/, load: page("admin"), nav: "admin" },
], { load: page("notfound") });

const q = document.getElementById("q");
q.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  navigate(`/search?q=${encodeURIComponent(q.value.trim())}`,
    { replace: location.pathname === "/search", focus: false });
});
// As you type: the search page listens to the box itself; elsewhere the
// first keystroke opens it.
q.addEventListener("input", () => {
  if (location.pathname !== "/search" && q.value.trim())
    navigate(`/search?q=${encodeURIComponent(q.value.trim())}`, { focus: false });
});

document.addEventListener("keydown", (ev) => {
  if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable)
    return;
  ev.preventDefault();
  q.focus();
  q.select();
});

function markAdmin() {
  const a = document.getElementById("admin-link");
  a.classList.toggle("admin-on", adminToken() !== "");
  a.title = adminToken() ? "Admin token set" : "Set an admin token";
}
window.addEventListener("kiln-admin", markAdmin);
markAdmin();

start();
