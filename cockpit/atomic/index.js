// The Atomic page: reads atomicd's state once, then follows it live (Changed, PropertiesChanged
// and the jobs' ObjectManager), and turns each button into one org.atomic call.

import { Atomic, explain, options, unwrap } from "./dbus.js";
import { h, alert, button, confirmDialog, descriptionList, shortId } from "./ui.js";
import { renderHost } from "./host.js";
import { renderApps } from "./apps.js";
import { renderContainers } from "./containers.js";
import { renderJobs } from "./jobs.js";
import { renderTrust } from "./trust.js";
import { displayLine } from "./command.js";

const OUTPUT_KEPT = 256 * 1024;

const state = {
    status: null,
    images: [],
    containers: [],
    jobList: [],
    backend: "",
    cachedUpdate: null,
    engineAvailable: true,
    engineFailed: false,
    atomicdUp: true,
    polkitDown: null,
    errors: {},
    pending: {},
    inputs: {},
    live: null,
    installPreview: null,
    runPreview: null,
    trust: null,
    rebootAfter: false,
    checked: false,
};

const atomic = new Atomic();

// --- rendering ------------------------------------------------------------------------------
let scheduled = false;
// Each preview request's number: an answer that arrives after a newer request was made is
// dropped, so a slow Info of one image never shows as the preview of the next.
let previewAsked = 0;
function render() {
    if (scheduled) return;
    scheduled = true;
    window.requestAnimationFrame(() => {
        scheduled = false;
        const focused = document.activeElement && document.activeElement.id;
        draw();
        if (focused) {
            const again = document.getElementById(focused);
            if (again && again !== document.activeElement) again.focus();
        }
    });
}

function replace(id, node) {
    const section = document.getElementById(id);
    section.replaceChildren(node);
}

function banners() {
    const list = [];
    if (!state.atomicdUp)
        list.push(alert("danger", "atomicd is not running", "The page shows what it last read and follows atomicd again once it is back.", { id: "banner-atomicd" }));
    if (!state.engineAvailable || state.engineFailed) {
        const engine = (state.status && state.status.engine) || {};
        list.push(alert("warning", "The container engine is not available",
            `atomicd cannot reach ${engine.name || "the engine"}${engine.socket ? ` at ${engine.socket}` : ""}. Containers, images and applications come back when it does; the host still works.`,
            { id: "banner-engine" }));
    }
    if (state.polkitDown)
        list.push(alert("danger", "polkit is not answering", state.polkitDown, { id: "banner-polkit" }));
    return list;
}

function draw() {
    const s = state.status;
    const engine = (s && s.engine) || {};
    document.getElementById("summary").textContent = s
        ? `atomicd ${s.version} · engine ${engine.name || "?"} ${engine.version || ""} · host ${state.backend || (s.host && s.host.backend) || "none"}`
        : "Connecting to atomicd…";
    document.getElementById("banners").replaceChildren(...banners());
    document.getElementById("jobs-count").textContent = String(state.jobList.length);
    replace("view-host", renderHost(state, act));
    replace("view-apps", renderApps(state, act));
    replace("view-containers", renderContainers(state, act));
    replace("view-jobs", renderJobs(state, act));
    replace("view-trust", renderTrust(state));
}

// --- reading ----------------------------------------------------------------------------------
// A failed read: the banners say why when it is atomicd, the engine or polkit.
function noteFailure(error, area) {
    const why = explain(error);
    if (why.kind === "atomicd") state.atomicdUp = false;
    else if (why.kind === "engine") state.engineFailed = true;
    else if (why.kind === "polkit") state.polkitDown = why.text;
    else if (area) state.errors[area] = { title: "Could not read", text: why.text };
}

async function refresh(what) {
    const reads = [];
    if (what.includes("status")) reads.push(atomic.call("Status", []).then(v => { state.status = v; state.atomicdUp = true; }));
    // A read that reaches the engine clears what an earlier failure said of it.
    if (what.includes("images")) reads.push(atomic.call("ListImages", [{}]).then(v => { state.images = v || []; state.engineFailed = false; }));
    if (what.includes("trust")) reads.push(atomic.call("TrustShow", []).then(v => { state.trust = v; }));
    if (what.includes("containers")) reads.push(atomic.call("ListContainers", [{}]).then(v => { state.containers = v || []; state.engineFailed = false; }));
    const results = await Promise.allSettled(reads);
    for (const r of results) if (r.status === "rejected") noteFailure(r.reason, what.includes("status") ? "host" : "containers");
    render();
}

function refreshAll() {
    return refresh(["status", "images", "containers", "trust"]);
}

function readManager() {
    const data = atomic.manager.data;
    if ("EngineAvailable" in data) {
        const was = state.engineAvailable;
        state.engineAvailable = Boolean(data.EngineAvailable);
        if (!was && state.engineAvailable) refreshAll();
    }
    if ("HostBackend" in data) state.backend = data.HostBackend;
    if ("CachedUpdate" in data) state.cachedUpdate = unwrap(data.CachedUpdate);
    render();
}

function readJobs() {
    state.jobList = Object.values(atomic.jobs)
        .filter(p => p && p.path)
        .map(p => ({ path: p.path, ...unwrap(p.data) }))
        .filter(j => j.Operation)
        .sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }));
    render();
}

// --- acting -----------------------------------------------------------------------------------
// Runs one call for an area: its buttons are disabled meanwhile; its error shows in the area.
async function acting(area, title, work) {
    state.pending[area] = true;
    state.errors[area] = null;
    render();
    try {
        const result = await work();
        state.polkitDown = null;
        return result;
    } catch (error) {
        const why = explain(error);
        if (why.kind === "polkit") state.polkitDown = why.text;
        if (why.kind === "atomicd") state.atomicdUp = false;
        if (why.kind === "engine") state.engineFailed = true;
        const titles = { denied: "Not allowed", cancelled: "Cancelled" };
        state.errors[area] = { title: titles[why.kind] || title, text: why.text, variant: why.kind === "cancelled" ? "info" : "danger" };
        return undefined;
    } finally {
        state.pending[area] = false;
        render();
    }
}

function startLive(operation, image) {
    state.live = { operation, image, text: "", done: "" };
}

function finishLive(result, fallback) {
    if (!state.live) return;
    if (result === undefined) {
        // The area's error says why; an empty output box would say nothing more.
        if (state.live.text) state.live.done = "failed";
        else state.live = null;
        return;
    }
    const code = result && result["exit-code"];
    state.live.done = code === undefined ? fallback : `exit code ${code}`;
    if (!state.live.text && result && result.output) state.live.text = result.output;
    const warnings = (result && result.warnings) || [];
    if (warnings.length) state.live.text += `\n${warnings.join("\n")}`;
}

const act = {
    async host(kind) {
        const reboot = state.rebootAfter;
        const titles = { check: "Check failed", upgrade: "Upgrade failed", rollback: "Rollback failed", cleanup: "Cleanup failed", deploy: "Deploy failed" };
        await acting("host", titles[kind], async () => {
            if (kind === "check") {
                const r = await atomic.call("HostUpgrade", [options({ check: ["b", true] })]);
                state.checked = true;
                return r;
            }
            if (kind === "upgrade") return atomic.call("HostUpgrade", [options({ reboot: ["b", reboot] })]);
            if (kind === "rollback") return atomic.call("Rollback", [options({ reboot: ["b", reboot] })]);
            if (kind === "cleanup") return atomic.call("HostCleanup", [options({ rollback: ["b", true] })]);
            const revision = (state.inputs["host-deploy-version"] || "").trim();
            if (!revision) throw { message: "Type the version or checksum to deploy." };
            return atomic.call("HostDeploy", [revision, options({ reboot: ["b", reboot] })]);
        });
        refresh(["status"]);
    },
    async pin(id, pinned) {
        await acting("host", pinned ? "Pin failed" : "Unpin failed", () => atomic.call("HostPin", [id, pinned]));
        refresh(["status"]);
    },
    async cancel(path) {
        await acting("jobs", "Cancel failed", () => atomic.cancel(path));
    },
    async preview() {
        const image = (state.inputs["install-image"] || "").trim();
        if (!image) {
            state.errors.install = { title: "No image", text: "Type the image to install." };
            render();
            return;
        }
        state.installPreview = null;
        const asked = ++previewAsked;
        await acting("install", "Cannot show what it does", async () => {
            try {
                const info = await atomic.call("Info", [image, options({ name: ["s", (state.inputs["install-name"] || "").trim()] })]);
                if (asked === previewAsked) state.installPreview = { info, image };
            } catch (error) {
                if (asked !== previewAsked) return;
                if (error && error.name === "org.atomic.Error.ImageNotFound") state.installPreview = { missing: true, image };
                else throw error;
            }
        });
    },
    async pull(image) {
        startLive("Pull", image);
        await acting("install", "Pull failed", () => atomic.call("Pull", [image, {}]));
        state.live = null;
        await act.preview();
    },
    async install(image, name, service) {
        startLive("Install", image);
        const r = await acting("install", "Install failed", () =>
            atomic.call("Install", [image, options({ name: ["s", (name || "").trim()], service: ["b", Boolean(service)] })]));
        finishLive(r, "installed");
        if (r !== undefined) state.installPreview = null;
        refresh(["status", "images", "containers"]);
    },
    async update(image) {
        startLive("Update", image);
        const r = await acting("apps", "Update failed", () => atomic.call("Update", [image, {}]));
        // The services of the image are updated (and health-checked) by the same call.
        const services = (r && r.applications) || [];
        finishLive(r, r && (r.changed || services.length) ? "updated" : "already up to date");
        if (state.live && services.length) state.live.text += `${state.live.text ? "\n" : ""}${services.join("\n")}`;
        refresh(["status", "images"]);
    },
    chooseService(imageId, value) {
        state.serviceChoice = { image: imageId, value };
        render();
    },
    async rollbackApp(app) {
        const body = h("div", {}, h("p", {}, `Run ${app.name} on its image before the last update again?`),
            descriptionList([["Now", shortId(app["image-id"])], ["Back to", shortId(app["previous-image-id"])],
                ["It runs", displayLine(app.command || [])]]));
        if (!await confirmDialog(`Roll ${app.name} back`, body, "Roll back")) return;
        await acting("services", `Cannot roll ${app.name} back`, () => atomic.call("RollbackApplication", [app.name, {}]));
        refresh(["status"]);
    },
    async uninstall(image, name) {
        const plan = await acting("apps", "Cannot show what Uninstall does", () =>
            atomic.call("Uninstall", [image, options({ name: ["s", name], display: ["b", true] })]));
        if (plan === undefined) return;
        const body = h("div", {}, h("p", {}, `Uninstall ${name} (${image})? Its containers and the image are removed.`),
            plan.command && plan.command.length ? descriptionList([["UNINSTALL runs", displayLine(plan.command)], ["It may", (plan.privileges || []).join("; ") || "nothing on the host"]]) : null);
        if (!await confirmDialog(`Uninstall ${name}`, body, "Uninstall", { variant: "danger" })) return;
        startLive("Uninstall", image);
        const r = await acting("apps", "Uninstall failed", () => atomic.call("Uninstall", [image, options({ name: ["s", name] })]));
        finishLive(r, "uninstalled");
        refresh(["status", "images", "containers"]);
    },
    async stop(name) {
        await acting("containers", `Cannot stop ${name}`, () => atomic.call("Stop", [name, {}]));
        refresh(["containers"]);
    },
    async runAgain(c) {
        await acting("containers", `Cannot run ${c.name}`, () => atomic.call("Run", [c.image, [], options({ name: ["s", c.name], detach: ["b", true] })]));
        refresh(["containers"]);
    },
    async removeContainer(c) {
        // RemoveContainer takes exactly this one, atomicd's own; the dialog shows what it runs.
        const plan = await acting("containers", `Cannot remove ${c.name}`, () =>
            atomic.call("RemoveContainer", [c.name, options({ display: ["b", true] })]));
        if (plan === undefined) return;
        const body = h("div", {}, h("p", {}, `Remove the container ${c.name} (${c.image})?`),
            descriptionList([["It runs", displayLine(plan.command)]]));
        if (!await confirmDialog(`Remove ${c.name}`, body, "Remove", { variant: "danger" })) return;
        await acting("containers", `Cannot remove ${c.name}`, () => atomic.call("RemoveContainer", [c.name, {}]));
        refresh(["containers", "status"]);
    },
    async removeImage(i) {
        // A dangling image has no name: it goes by its id.
        const target = (i.tags || []).length ? i.image : i["image-id"];
        const plan = await acting("containers", `Cannot remove ${target}`, () =>
            atomic.call("RemoveImage", [target, options({ display: ["b", true] })]));
        if (plan === undefined) return;
        const body = h("div", {}, h("p", {}, `Remove the image ${target}?`),
            descriptionList([["It runs", displayLine(plan.command)]]),
            (plan.warnings || []).map(w => h("p", {}, w)));
        if (!await confirmDialog(`Remove ${target}`, body, "Remove", { variant: "danger" })) return;
        await acting("containers", `Cannot remove ${target}`, () => atomic.call("RemoveImage", [target, {}]));
        refresh(["images", "status"]);
    },
    async pruneImages() {
        const plan = await acting("containers", "Cannot list the dangling images", () =>
            atomic.call("PruneImages", [options({ display: ["b", true] })]));
        if (plan === undefined) return;
        const ids = plan.images || [];
        const body = ids.length
            ? h("div", {}, h("p", {}, `Remove ${ids.length} dangling image(s) that nothing uses?`), h("ul", {}, ids.map(id => h("li", {}, h("code", {}, id)))))
            : h("p", {}, "There are no dangling images that nothing uses.");
        if (!ids.length) { await confirmDialog("Remove dangling images", body, "OK"); return; }
        if (!await confirmDialog("Remove dangling images", body, "Remove", { variant: "danger" })) return;
        await acting("containers", "Cannot remove the dangling images", () => atomic.call("PruneImages", [{}]));
        refresh(["images", "status"]);
    },
    async runPreview(image) {
        const asked = ++previewAsked;
        await acting("containers", `Cannot show what ${image} runs`, async () => {
            const info = await atomic.call("Info", [image, {}]);
            if (asked === previewAsked) state.runPreview = { image, info };
        });
    },
    async run(image) {
        const r = await acting("containers", `Cannot run ${image}`, () => atomic.call("Run", [image, [], options({ detach: ["b", true] })]));
        if (r !== undefined) state.runPreview = null;
        refresh(["containers"]);
    },
    clearPreview() { state.installPreview = null; render(); },
    clearRunPreview() { state.runPreview = null; render(); },
};

// --- tabs ---------------------------------------------------------------------------------------
function show(view) {
    for (const tab of document.querySelectorAll("#tabs [data-view]")) {
        const on = tab.dataset.view === view;
        tab.setAttribute("aria-selected", String(on));
        tab.parentElement.classList.toggle("pf-m-current", on);
        document.getElementById(`view-${tab.dataset.view}`).hidden = !on;
    }
}

function viewFromHash() {
    const view = window.location.hash.replace(/^#\/?/, "");
    return ["host", "apps", "containers", "jobs", "trust"].includes(view) ? view : "host";
}

for (const tab of document.querySelectorAll("#tabs [data-view]")) {
    tab.addEventListener("click", () => { window.location.hash = tab.dataset.view; });
}
window.addEventListener("hashchange", () => show(viewFromHash()));
show(viewFromHash());

// --- following atomicd ------------------------------------------------------------------------
atomic.addEventListener("changed", e => {
    const areas = e.detail || [];
    const what = [];
    if (areas.includes("host") || areas.includes("installed")) what.push("status");
    if (areas.includes("images")) what.push("images");
    if (areas.includes("containers")) what.push("containers");
    if (what.length) refresh(what);
});
atomic.addEventListener("owner", e => {
    const up = Boolean(e.detail);
    if (up && !state.atomicdUp) {
        state.atomicdUp = true;
        refreshAll();
    } else if (!up && state.status) {
        state.atomicdUp = false;
    }
    render();
});
atomic.manager.addEventListener("changed", readManager);
atomic.jobs.addEventListener("added", readJobs);
atomic.jobs.addEventListener("changed", readJobs);
atomic.jobs.addEventListener("removed", readJobs);
atomic.onOutput((_path, text) => {
    if (!state.live) return;
    state.live.text = (state.live.text + text).slice(-OUTPUT_KEPT);
    render();
});

atomic.manager.wait(() => readManager());
refreshAll();
draw();
