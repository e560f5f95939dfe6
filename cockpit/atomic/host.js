// The Host view: the backend, its deployments, the update a check found, and the buttons that
// change them, each showing its job's progress live with Cancel.

import { h, button, card, descriptionList, empty, label, table, textInput, formGroup, when, alert } from "./ui.js";
import { jobRow } from "./jobs.js";

const HOST_OPERATIONS = ["HostUpgrade", "Rollback", "HostDeploy", "HostRebase", "HostCleanup", "AutoUpdate"];

function deploymentLabels(d) {
    return [
        d.booted ? label("booted", "green") : null,
        d.staged ? label("staged", "blue") : null,
        d.default ? label("default", "purple") : null,
        d.pinned ? label("pinned", "orange") : null,
    ];
}

function diffText(diff) {
    if (!diff) return "";
    const parts = [];
    const add = (key, words) => { if (diff[key] !== undefined) parts.push(`${diff[key]} ${words}`); };
    add("files-changed", "files changed");
    add("files-added", "added");
    add("files-removed", "removed");
    add("packages-upgraded", "packages upgraded");
    add("packages-added", "added");
    add("packages-removed", "removed");
    if (diff.digest) parts.push(`image ${diff.digest}`);
    return parts.join(", ");
}

export function renderHost(state, act) {
    const host = (state.status && state.status.host) || {};
    const backend = state.backend || host.backend || "none";
    const deployments = host.deployments || [];
    const busy = state.pending.host;
    const rebootBox = h("input", { type: "checkbox", id: "host-reboot", checked: state.rebootAfter ? true : undefined,
        onchange: e => { state.rebootAfter = e.target.checked; } });

    const actions = h("div", { class: "atomic-actions" },
        button("Check for updates", () => act.host("check"), { id: "host-check", disabled: busy }),
        button("Upgrade", () => act.host("upgrade"), { id: "host-upgrade", variant: "primary", disabled: busy }),
        button("Roll back", () => act.host("rollback"), { id: "host-rollback", disabled: busy || deployments.length < 2 }),
        button("Clean up", () => act.host("cleanup"), { id: "host-cleanup", disabled: busy }),
        h("span", { class: "pf-v5-c-check atomic-check" }, rebootBox,
            h("label", { class: "pf-v5-c-check__label", for: "host-reboot" }, "Reboot when done")));

    const deployInput = textInput("host-deploy-version", "a version or checksum", state.inputs);
    const deployForm = h("form", { class: "pf-v5-c-form pf-m-horizontal atomic-inline-form", onsubmit: e => { e.preventDefault(); act.host("deploy"); } },
        formGroup("Deploy version", h("div", { class: "pf-v5-c-input-group" }, h("div", { class: "pf-v5-c-input-group__item pf-m-fill" }, deployInput),
            h("div", { class: "pf-v5-c-input-group__item" }, h("button", { class: "pf-v5-c-button pf-m-secondary", type: "submit", id: "host-deploy", disabled: busy ? true : undefined }, "Deploy")))));

    const update = state.cachedUpdate && state.cachedUpdate.version !== undefined ? state.cachedUpdate : null;
    const updateBlock = update
        ? alert("info", `Update available: ${update.version || update.checksum}`,
            descriptionList([["Origin", update.origin], ["Checksum", update.checksum], ["Built", when(update.timestamp)], ["Changes", diffText(update.diff)]]),
            { id: "host-update" })
        : h("p", { class: "atomic-muted", id: "host-update-none" }, state.checked ? "No update is available." : "No update known; check for one.");

    const rows = deployments.map(d => ({
        key: d.id,
        cells: [
            h("span", {}, h("strong", {}, d.version || "(no version)"), " ", deploymentLabels(d)),
            d.osname,
            h("code", { title: d.checksum }, (d.checksum || "").slice(0, 12)),
            when(d.timestamp),
            d.origin || "",
            button(d.pinned ? "Unpin" : "Pin", () => act.pin(d.id, !d.pinned), { small: true, id: `pin-${d.id}`, aria: `${d.pinned ? "Unpin" : "Pin"} deployment ${d.version || d.id}` }),
        ],
    }));

    const auto = host.updates;
    const automatic = auto
        ? h("div", { class: "atomic-preview", id: "host-updates" },
            h("h3", { class: "pf-v5-c-title pf-m-md" }, "Automatic updates"),
            descriptionList([
                ["Policy", `${auto.policy} (strategy ${auto.strategy})`],
                ["Window", auto.window],
                ["Last check", auto["last-check"] ? `${when(auto["last-check"])}: ${auto["last-result"]}` : "not yet"],
                ["Next check", when(auto["next-check"])],
                ["Reboot slot", auto.lock ? `${auto.lock.backend} group ${auto.lock.group}, ${auto.lock.held ? `held since ${when(auto.lock.since)}` : "not held"}` : ""],
                ["Configuration", auto.error],
            ]))
        : null;
    const jobs = state.jobList.filter(j => HOST_OPERATIONS.includes(j.Operation));
    const body = h("div", {},
        host.error ? alert("danger", "The host cannot be read", host.error) : null,
        state.errors.host ? alert(state.errors.host.variant || "danger", state.errors.host.title, state.errors.host.text, { id: "host-error" }) : null,
        jobs.map(j => jobRow(j, act)),
        updateBlock,
        deployments.length ? table("Deployments", ["Deployment", "OS", "Checksum", "Time", "Origin", ""], rows, { id: "deployments" })
            : empty(backend === "none" ? "This host is not image-based: there are no deployments." : "No deployments."),
        backend === "none" ? null : h("div", {}, actions, deployForm),
        automatic);
    return card(`Host (${backend})`, body, { id: "host-card" });
}
