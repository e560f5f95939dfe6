// The Applications view: the applications installed as services (their unit, updates and last
// result, with Update now and Roll back), the installed applications, and installing an image by
// reference: first what its labels would do (Info), then the Install itself, its output live.

import { h, button, card, descriptionList, empty, table, textInput, formGroup, when, alert, shortId } from "./ui.js";
import { signatureBlock } from "./trust.js";
import { displayLine } from "./command.js";

// A label's resolved line and what it may do to the host, in plain words.
export function linePreview(title, line) {
    if (!line) return null;
    if (line.supported === false)
        return alert("warning", `${title}: atomicd will not run this label`, line.error || "");
    return h("div", { class: "atomic-preview-line" },
        h("h3", { class: "pf-v5-c-title pf-m-md" }, title),
        h("code", { class: "atomic-command" }, displayLine(line.command)),
        line.privileges && line.privileges.length
            ? h("ul", { class: "atomic-privileges", "aria-label": `What ${title} may do to the host` }, line.privileges.map(p => h("li", {}, p)))
            : h("p", { class: "atomic-muted" }, "Confined: no privileges on the host."));
}

function preview(state, act) {
    const p = state.installPreview;
    if (!p) return null;
    if (p.missing)
        return alert("info", `${p.image} is not on this host`, "Pull it to see what its labels would do before installing.",
            { id: "install-missing", actions: button("Pull", () => act.pull(p.image), { id: "install-pull" }) });
    const info = p.info;
    // An image with no INSTALL label can still be installed as a service: its RUN line runs.
    const canInstall = Boolean(info.install && info.install.supported !== false);
    const canServe = Boolean(info.run && info.run.supported !== false);
    const service = canServe && asService(state, info);
    return h("div", { class: "atomic-preview", id: "install-preview", "data-image": p.image },
        descriptionList([["Image", info.image], ["Image ID", shortId(info["image-id"])], ["Version", info.version], ["Help", info.help]]),
        signatureBlock(info.signature, "install-signature"),
        info.install ? linePreview("INSTALL", info.install)
            : alert("warning", "This image has no INSTALL label", canServe
                ? "Installed as a service, its RUN line runs from a unit; otherwise run it from Containers and images."
                : "There is nothing to install; run it from Containers and images instead."),
        linePreview("RUN", info.run),
        canServe ? serviceChoice(info, service, act) : null,
        canInstall || service
            ? h("div", { class: "atomic-actions" },
                button("Install", () => act.install(info.image, state.inputs["install-name"], service), { id: "install-confirm", variant: "primary", disabled: state.pending.install }),
                button("Cancel", () => act.clearPreview(), { variant: "link", id: "install-cancel" }))
            : null);
}

// Whether to install as a service: the person's choice once made, else what the image asks for
// with its org.atomic.service label. The page always sends it, so what was shown is what runs.
export function asService(state, info) {
    const chosen = state.serviceChoice && state.serviceChoice.image === info["image-id"] ? state.serviceChoice.value : undefined;
    return chosen !== undefined ? chosen : (info.labels || {})["org.atomic.service"] === "true";
}

function serviceChoice(info, checked, act) {
    const box = h("input", { type: "checkbox", id: "install-service", checked: checked ? true : undefined,
        onchange: e => act.chooseService(info["image-id"], e.target.checked) });
    return h("div", { class: "pf-v5-c-check atomic-service-choice" }, box,
        h("label", { class: "pf-v5-c-check__label", for: "install-service" },
            "Run it as a service: an enabled atomic-app-NAME.service runs the RUN line above at every boot"));
}

// An application's unit state and updates, in a few words.
function serviceState(a) {
    const held = a.rollbacks >= 3 ? " — held after 3 rollbacks" : "";
    const policy = a["auto-update"] && a["auto-update"] !== "none" ? `automatic updates: ${a["auto-update"]}` : "no automatic updates";
    return [a["unit-state"], h("br", {}), h("span", { class: "atomic-muted" }, `${policy}${held}`)];
}

function servicesCard(state, act) {
    const apps = (state.status && state.status.applications) || [];
    if (!apps.length) return null;
    const busy = state.pending.services;
    const rows = apps.map(a => ({
        key: a.name,
        cells: [
            h("strong", {}, a.name),
            [a.image, h("br", {}), h("code", {}, shortId(a["image-id"]))],
            serviceState(a),
            a["update-available"] ? h("span", { class: "atomic-update-available" }, `${a["update-available"]} is available`) : "up to date",
            [a["last-result"] || "", a["last-change"] ? [h("br", {}), h("span", { class: "atomic-muted" }, when(a["last-change"]))] : null],
            h("span", { class: "atomic-row-actions" },
                button("Update now", () => act.update(a.image), { small: true, id: `app-update-${a.name}`, aria: `Update ${a.name} now`, disabled: busy }),
                button("Roll back", () => act.rollbackApp(a), { small: true, id: `app-rollback-${a.name}`, aria: `Roll ${a.name} back`, disabled: busy || !a["previous-image-id"] })),
        ],
    }));
    return card("Services", h("div", {},
        state.errors.services ? alert(state.errors.services.variant || "danger", state.errors.services.title, state.errors.services.text, { id: "services-error" }) : null,
        table("Applications installed as services", ["Name", "Image", "State", "Update", "Last result", ""], rows, { id: "services" })),
    { id: "services-card" });
}

export function renderApps(state, act) {
    const installed = (state.status && state.status.installed) || [];
    const form = h("form", { class: "pf-v5-c-form", id: "install-form", onsubmit: e => { e.preventDefault(); act.preview(); } },
        formGroup("Image", textInput("install-image", "registry/name:tag", state.inputs), "The image to install, by reference."),
        formGroup("Name", textInput("install-name", "the image's name", state.inputs), "The application's name (NAME in its labels); optional."),
        h("div", { class: "pf-v5-c-form__group pf-m-action" }, h("div", { class: "pf-v5-c-form__actions" },
            h("button", { class: "pf-v5-c-button pf-m-secondary", type: "submit", id: "install-preview-button" }, "Show what it does"))));
    const rows = installed.map(r => ({
        key: r.name,
        cells: [
            h("strong", {}, r.name),
            r.image,
            h("code", {}, shortId(r["image-id"])),
            when(r["installed-at"]),
            `uid ${r["installed-by"]}`,
            h("span", { class: "atomic-row-actions" },
                button("Update", () => act.update(r.image), { small: true, id: `update-${r.name}`, aria: `Update ${r.name}` }),
                button("Uninstall", () => act.uninstall(r.image, r.name), { small: true, variant: "danger", id: `uninstall-${r.name}`, aria: `Uninstall ${r.name}` })),
        ],
    }));
    const live = state.live && ["Install", "Pull", "Uninstall", "Update"].includes(state.live.operation)
        ? h("div", { class: "atomic-live", id: "apps-output" },
            h("h3", { class: "pf-v5-c-title pf-m-md" }, `${state.live.operation} ${state.live.image}${state.live.done ? ` — ${state.live.done}` : " — running"}`),
            h("pre", { class: "atomic-output", "aria-live": "polite" }, state.live.text || (state.live.done ? "(it printed nothing)" : "(no output yet)")))
        : null;
    const installing = state.live && ["Install", "Pull"].includes(state.live.operation);
    return h("div", {},
        servicesCard(state, act),
        card("Installed applications", h("div", {},
            state.errors.apps ? alert(state.errors.apps.variant || "danger", state.errors.apps.title, state.errors.apps.text, { id: "apps-error" }) : null,
            live && !installing ? live : null,
            installed.length ? table("Installed applications", ["Name", "Image", "Image ID", "Installed", "By", ""], rows, { id: "installed" })
                : empty("No applications are installed.")), { id: "apps-card" }),
        card("Install an application", h("div", {}, form,
            live && installing ? live : null,
            state.errors.install ? alert(state.errors.install.variant || "danger", state.errors.install.title, state.errors.install.text, { id: "install-error" }) : null,
            preview(state, act)), { id: "install-card" }));
}
