// notfound: the 404 view for paths that are no page of the UI.
import { h, setTitle } from "../ui.js";

export function render(ctx) {
  setTitle("Not found");
  ctx.main.append(h("section.not-found",
    h("div.code", "404"),
    h("h1", "No such page"),
    h("p.muted", "Nothing lives at ", h("code", location.pathname), "."),
    h("p", h("a", { href: "/" }, "Go to the home page"), " or search for a project (press ", h("kbd", "/"), ").")));
}
